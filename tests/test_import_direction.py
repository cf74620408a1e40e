"""Imports between idara's packages run one way (docs/architecture.md, "Packages and which may
import which").

    agents        imports nothing of ours   (the bottom: agents, the step contract, notes)
    workers   ->  agents
    orchestrator -> agents, workers

Inside orchestrator/, the faces (the API's routers, the web pages, the CLI) call services, and
nothing calls a face:

    orchestrator.cli        is imported by no module outside orchestrator/cli/ (the CLI is a
                            face, not a library: what the benchmarks and the tests share with
                            it lives in the domain's modules)
    orchestrator.*.router   is imported by orchestrator/app.py alone, which mounts them (what a
                            face shares with a router, a schema or a helper, lives outside it)

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


CLI = "orchestrator.cli"
ROUTER = "router"
MOUNTS_ROUTERS = "orchestrator/app.py"
FACE_EXCEPTIONS: dict[str, frozenset[str]] = {
    # A program that is the CLI itself: `python -m orchestrator.bench.instant_node node start`
    # runs `idara node start` with the benchmark's instant backend in place of the model.
    "orchestrator/bench/instant_node.py": frozenset({"orchestrator.cli.main"}),
}
"""The only imports of a face allowed outside the rules above, by file and module."""


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


def modules_of(source: str, package: str) -> Iterator[tuple[int, list[str]]]:
    """(line, dotted modules) for every import statement in ``source`` (a module of
    ``package``): the modules it may load, ``from a.b import c`` naming ``a.b`` then ``a.b.c``
    (``c`` may be a module)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, up level - 1
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def face_imports(relative: str, source: str) -> Iterator[str]:
    """The imports of ``source`` (the file at ``relative``, e.g. ``orchestrator/web/ops.py``)
    that reach a face it may not import: the CLI from outside it, a router from anywhere but
    the app."""
    module = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    package = module if relative.endswith("/__init__.py") else module.rpartition(".")[0]
    allowed = FACE_EXCEPTIONS.get(relative, frozenset())
    for line, targets in sorted(modules_of(source, package)):
        targets = [t for t in targets if not any(_within(t, a) for a in allowed)]
        cli = [t for t in targets if _within(t, CLI)]
        if cli and not _within(module, CLI):
            yield f"{relative}:{line}: imports {cli[0]}: the CLI is a face, not a library"
        routers = [
            t for t in targets if t.startswith("orchestrator.") and t.rsplit(".", 1)[-1] == ROUTER
        ]
        if routers and relative != MOUNTS_ROUTERS:
            yield f"{relative}:{line}: imports {routers[0]}: only {MOUNTS_ROUTERS} imports routers"


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


def test_nothing_imports_a_face() -> None:
    forbidden = [
        problem
        for _package, path in _files()
        for problem in face_imports(
            path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
        )
    ]
    assert not forbidden, "imports of a face:\n" + "\n".join(forbidden)


def test_the_face_check_sees_every_spelling() -> None:
    def problems(relative: str, source: str) -> list[str]:
        return [p.split(": ")[1] for p in face_imports(relative, source)]

    spellings = (
        "from orchestrator.cli.stack import Stack\n"
        "def f():\n    import orchestrator.cli.main\n"
        "from orchestrator import cli\n"
        "from orchestrator.nodes.router import NodeOut\n"
        "from orchestrator.auth import router\n"
    )
    assert problems("orchestrator/bench/model.py", spellings) == [
        "imports orchestrator.cli.stack",
        "imports orchestrator.cli.main",
        "imports orchestrator.cli",
        "imports orchestrator.nodes.router",
        "imports orchestrator.auth.router",
    ]
    assert problems("orchestrator/cli/demo.py", "from . import client\n") == []
    assert problems("orchestrator/bench/__init__.py", "from .. import cli\n") == [
        "imports orchestrator.cli"
    ]
    assert problems("orchestrator/bench/model.py", "from ..cli import demo\n") == [
        "imports orchestrator.cli"
    ]
    assert problems("orchestrator/app.py", "from orchestrator.nodes.router import router\n") == []
    assert problems("orchestrator/cli/nodes.py", "from orchestrator.nodes import router\n") == [
        "imports orchestrator.nodes.router"
    ]


def test_the_check_sees_imports_inside_functions() -> None:
    source = "def f():\n    from orchestrator.settings import Settings\n    import workers.node\n"
    assert list(imports_of(source, "agents")) == [(2, "orchestrator"), (3, "workers")]
    assert list(imports_of("from . import x\n", "agents")) == [(1, "agents")]


if __name__ == "__main__":
    for (source, target), n in sorted(pair_counts().items()):
        print(f"{source:>12} -> {target:<12} {n}", file=sys.stdout)
