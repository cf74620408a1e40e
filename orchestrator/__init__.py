"""idara control plane: API, database, procedure engine and CLI."""
