"""The package layout's one rule: imports point down, to the foundations (README, "Layout").

A module may import bolt_app modules of its own layer or of a layer below it, never above. Imports inside
functions count too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOLT_APP = Path(__file__).resolve().parents[1] / "bolt_app"

# Lower number, lower layer. New capability packages (chatops/, notifications/) sit between the Lambda side
# and the listeners that use them.
LAYERS = {
    "config": 0,
    "foundation": 0,
    "request_path": 1,
    "slack_web": 1,
    "aws_lambda": 2,
    "chatops": 3,
    "notifications": 3,
    "listeners": 4,
    "app": 5,
    "__init__": 5,
    "local": 6,
    "__main__": 6,
}


def _layer_of(module: str) -> str:
    """`bolt_app.request_path.gateway` -> `request_path`; `bolt_app` itself -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _bolt_app_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "bolt_app":
                found += [(node.lineno, f"bolt_app.{alias.name}") for alias in node.names]
            elif node.module.startswith("bolt_app."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("bolt_app.")]
    return found


MODULES = sorted(p for p in BOLT_APP.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(BOLT_APP.parent)))
def test_imports_point_down(path: Path) -> None:
    module = ".".join(path.relative_to(BOLT_APP.parent).with_suffix("").parts)
    own = _layer_of(module)
    assert own in LAYERS, f"{module}: a new top-level package of bolt_app/ needs its place in LAYERS"
    upward = [
        f"line {line}: {target} ({_layer_of(target)})"
        for line, target in _bolt_app_imports(path)
        if LAYERS.get(_layer_of(target), 99) > LAYERS[own]
    ]
    assert not upward, f"{module} ({own}) imports a layer above it: " + "; ".join(upward)


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # The check itself must be able to fail: a foundation module importing a listener is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bolt_app.listeners import actions\n")
    [(line, target)] = _bolt_app_imports(bad)
    assert (line, target) == (2, "bolt_app.listeners")
    assert LAYERS[_layer_of(target)] > LAYERS["foundation"]
