"""The layering of docs/ARCHITECTURE.md, checked by parsing every module's imports (no importing)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _offenders(package: str, forbidden: tuple[str, ...], allowed_under: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel.startswith(a) for a in allowed_under):
            continue
        for mod in sorted(_imports(path)):
            if mod.split(".")[0] in forbidden:
                bad.append(f"{rel} imports {mod}")
    return bad


def test_only_the_cli_imports_pipelines_or_workflows():
    assert _offenders("uniaudio", ("pipelines", "workflows"), ("uniaudio/cli/",)) == []


def test_stores_import_no_stage():
    """Stores may use torch (exported weights) and the model (to rebuild one), never a stage."""
    bad = _offenders("uniaudio/stores", ("pipelines", "workflows", "codec"))
    for path in sorted((ROOT / "uniaudio/stores").rglob("*.py")):
        for mod in _imports(path):
            if mod.startswith(("uniaudio.train", "uniaudio.generate", "uniaudio.evaluate", "uniaudio.cli")):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert bad == []


def test_checker_sees_lazy_imports(tmp_path):
    """The walk covers imports inside functions (the usual lazy-import spot), so it can fail."""
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from pipelines import delta\n")
    assert "pipelines" in _imports(p)
