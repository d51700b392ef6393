"""The AIWFE harness: everything nox sessions do lives here, importable and unit tested.

noxfile.py only wires sessions to these functions.
"""
