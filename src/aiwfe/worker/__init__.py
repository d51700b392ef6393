"""The task processor: a Celery worker that executes workflow runs step by step."""
