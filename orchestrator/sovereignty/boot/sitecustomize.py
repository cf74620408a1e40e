"""Loaded by every Python process the idara stack starts (``PYTHONPATH`` points here): the
egress guard is in place before any library opens a connection."""

from orchestrator.sovereignty import egress

egress.install()
