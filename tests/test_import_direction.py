"""Imports between idara's packages run one way (docs/architecture.md, "Which package may
import which").

    agents        imports nothing of ours   (the bottom: agents, the step contract, notes)
    workers   ->  agents
    orchestrator -> agents, workers

Every import statement in every .py file of the three packages is read with `ast`, those
inside functions and `if TYPE_CHECKING:` blocks included (a lazy import is still a dependency),
and a forbidden one fails the test naming its file and line.

Run as a script, it prints the number of import statements per (from-package, to-package):
`python tests/test_import_direction.py`.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("orchestrator", "agents", "workers")

# Which of our packages each package may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "agents": frozenset(),
    "workers": frozenset({"agents"}),
    "orchestrator": frozenset({"agents", "workers"}),
}


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The top-level packages one import statement reaches."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if node.level:  # relative: stays inside the importing package
        return [package]
    return [(node.module or "").split(".")[0]]


def imports_of(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, our package imported) for every import statement in `source` reaching one of ours."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in dict.fromkeys(_targets(node, package)):
                if target in PACKAGES:
                    yield node.lineno, target


def _files() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def pair_counts() -> Counter[tuple[str, str]]:
    """Import statements per (from-package, to-package), a package's imports of itself included."""
    counts: Counter[tuple[str, str]] = Counter()
    for package, path in _files():
        for _line, target in imports_of(path.read_text(encoding="utf-8"), package):
            counts[package, target] += 1
    return counts


def test_imports_run_one_way() -> None:
    forbidden = [
        f"{path.relative_to(ROOT)}:{line}: {package} may not import {target}"
        for package, path in _files()
        for line, target in imports_of(path.read_text(encoding="utf-8"), package)
        if target != package and target not in ALLOWED[package]
    ]
    assert not forbidden, "forbidden imports:\n" + "\n".join(forbidden)


def test_the_check_sees_imports_inside_functions() -> None:
    source = "def f():\n    from orchestrator.settings import Settings\n    import workers.node\n"
    assert list(imports_of(source, "agents")) == [(2, "orchestrator"), (3, "workers")]
    assert list(imports_of("from . import x\n", "agents")) == [(1, "agents")]


if __name__ == "__main__":
    for (source, target), n in sorted(pair_counts().items()):
        print(f"{source:>12} -> {target:<12} {n}", file=sys.stdout)
