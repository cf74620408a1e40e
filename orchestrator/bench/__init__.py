"""``idara bench``: how much of its model the platform wastes, measured side by side.

Each benchmark runs the real stack (``orchestrator/stack.start_stack``: Redis, Prefect,
API, engine, one node) in a data dir of its own, and a reference in the same run, and prints
the ratio. Figures and commands are in ``docs/benchmarks.md``.
"""
