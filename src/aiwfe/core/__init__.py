"""Shared core of the AIWFE services: settings, logging, DB, auth, telemetry, providers."""
