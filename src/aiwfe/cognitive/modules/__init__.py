"""The five cognitive modules."""
