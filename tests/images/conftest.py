"""Fixtures for tests/images (the helpers live in image_helpers.py)."""

from image_helpers import containers, docker, images, report

__all__ = ["containers", "docker", "images", "report"]
