"""The web interface: server-rendered pages for clerks, supervisors, auditors and ops, in
French, Arabic and English (docs/ui.md)."""
