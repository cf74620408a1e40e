"""Celery app and the node process that runs agent steps on local models. Imports ``agents``,
never ``orchestrator`` (docs/architecture.md)."""
