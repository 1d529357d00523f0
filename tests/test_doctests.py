"""Every runnable example in the project's docstrings runs in ``make test`` (lhotse style: the docs are
tested). Modules are found by their ``>>>`` lines, so a new example is picked up without registering it."""

from __future__ import annotations

import doctest
import importlib
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


def test_examples_are_found():
    assert len(MODULES) > 50 and "uniaudio.cli.quiet" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
