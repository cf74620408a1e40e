"""Celery app and the node process that runs agent steps on local models."""
