"""Layers, one way (../shared/DESIGN.md): tools -> realtime -> engines. engines/ imports neither realtime/
nor tools/; realtime/ never imports tools/. Checked on the source, every import statement (also the
ones inside functions)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"engines": "mimicam.engines", "realtime": "mimicam.realtime", "tools": "mimicam.tools"}
FORBIDDEN = {"engines": ("mimicam.realtime", "mimicam.tools"), "realtime": ("mimicam.tools",), "tools": ()}


def _imports(path: Path, package: str):
    """Absolute module names imported by ``path`` (a module of ``package``, e.g. mimicam.realtime.provenance)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module or ""
                continue
            parts = package.split(".")
            base = parts[: len(parts) - (node.level - 1)]
            if node.module:
                yield node.lineno, ".".join([*base, node.module])
            else:  # from .. import tools
                for alias in node.names:
                    yield node.lineno, ".".join([*base, alias.name])


def violations() -> list[str]:
    found = []
    for folder, dotted in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder)
            package = ".".join([dotted, *rel.parent.parts]) if rel.parent.parts else dotted
            for line, name in _imports(path, package):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[folder]):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_layers_hold():
    assert violations() == []


def test_the_check_sees_relative_and_absolute_imports(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("from ..realtime.errors import InputError\nimport mimicam.tools.cli\ndef f():\n"
                   "    from .. import tools\n")
    got = sorted(name for _, name in _imports(bad, "mimicam.engines"))
    assert got == ["mimicam.realtime.errors", "mimicam.tools", "mimicam.tools.cli"]
    nested = sorted(name for _, name in _imports(bad, "mimicam.engines.sub"))
    assert nested[0] == "mimicam.engines.realtime.errors"  # two dots from a subpackage stay inside engines


@pytest.mark.parametrize("folder", list(PACKAGES))
def test_every_package_folder_is_scanned(folder):
    assert any((ROOT / folder).rglob("*.py"))
