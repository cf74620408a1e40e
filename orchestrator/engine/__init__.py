"""The procedure engine: runs each case as a Prefect flow, each agent step as a Celery task."""
