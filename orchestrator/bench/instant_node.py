"""``python -m orchestrator.bench.instant_node node start …``: ``idara node start`` with the
benchmark-only instant backend (``orchestrator/bench/instant.py``) in place of the model.

Only ``idara bench orchestration`` starts it (``Stack.node_module``). It loads no model, so
it serves any model name its steps ask for.
"""

from __future__ import annotations

from orchestrator.bench.instant import InstantRuntime


def main() -> None:
    from workers import node

    node.load_models = lambda: None
    node.runtime_for = InstantRuntime  # type: ignore[assignment]

    from orchestrator.cli.main import app

    app(prog_name="idara-bench-instant-node")


if __name__ == "__main__":
    main()
