"""Sovereignty by construction: no connection leaves the premises, and it can be checked."""
