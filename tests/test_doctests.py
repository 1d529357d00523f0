"""Every runnable example in the project's docstrings runs in ``make test`` (lhotse style: the docs are
tested). Modules are found by their ``>>>`` lines, so a new example is picked up without registering it;
the benchmark scripts' examples run too (loaded by path: ``benchmarks/`` is not a package)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("uniaudio", "pipelines", "codec", "workflows")


def _modules_with_examples() -> list[str]:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if ">>> " in path.read_text(encoding="utf-8", errors="replace"):
                rel = path.relative_to(ROOT).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                found.append(".".join(parts))
    return found


MODULES = _modules_with_examples()


def _run_examples(module) -> doctest.TestResults:
    return doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)


def test_examples_are_found():
    assert len(MODULES) > 50 and "uniaudio.cli.quiet" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    assert _run_examples(importlib.import_module(name)).failed == 0


BENCHMARKS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if ">>> " in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_examples(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = _run_examples(module)
    assert result.attempted > 0 and result.failed == 0
