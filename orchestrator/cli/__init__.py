"""The ``idara`` command line."""
