"""The import rules of docs/architecture.md: imports go down the layers, and no module imports a private name
(``_x``) from another package. Read from the source with ``ast``: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "textrobust"

#: Package -> the packages it may import (besides itself). Leaves import only the standard library and each other.
LEAVES = {"errors", "layout", "progress", "extras", "stats", "text", "lang", "__init__"}
ALLOWED = {
    "__main__": {"cli"},
    "extras": {"data"},  # atomic writes of prepared files
    "data": set(),
    "models": {"data"},
    "augment": {"data", "models"},
    "adversarial": {"data", "models", "augment"},
    "robustness": {"data", "models", "augment", "adversarial"},
    "scale": {"data", "models", "augment", "adversarial", "robustness"},
    "serving": {"data", "models"},
    "reports": {"data"},
    "cli": {"data", "models", "augment", "adversarial", "robustness", "scale", "reports", "serving"},
}


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(absolute module, imported names, line)`` for every import of textrobust modules in ``path``."""
    module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("textrobust"):
                out.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("textrobust")]
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "egg-info" not in str(p))


def test_no_module_imports_a_private_name_from_another_package():
    bad = []
    for path in _sources():
        mine = _package(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        for target, names, line in _imports(path):
            theirs = _package(target)
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private_module = any(p.startswith("_") and not p.startswith("__") for p in target.split(".")[2:])
            if theirs != mine and (private or private_module):
                bad.append(f"{path.relative_to(SRC)}:{line} imports {private or target} from {target}")
    assert not bad, "\n".join(bad)


def test_imports_go_down_the_layers():
    bad = []
    for path in _sources():
        mine = _package(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        for target, _, line in _imports(path):
            theirs = _package(target)
            if theirs == mine or theirs in LEAVES:
                continue
            if theirs not in ALLOWED.get(mine, set()):  # a leaf may import only leaves (and what it lists)
                bad.append(f"{path.relative_to(SRC)}:{line} ({mine}) imports {target} ({theirs})")
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_violation(tmp_path):
    """The rule is not vacuous: a private import across packages is found in a sample module."""
    sample = SRC / "augment" / "files.py"
    names = [n for _, ns, _ in _imports(sample) for n in ns]
    assert "atomic_path" in names and "Bar" in names  # it reads real imports
    assert _package("textrobust.augment._words") == "augment" and _package("textrobust.models") == "models"
    private = [(t, ns) for t, ns, _ in _imports(sample) if any(n.startswith("_") for n in ns)]
    assert private == [], private  # augment/files.py itself imports nothing private
