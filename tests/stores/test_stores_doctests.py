"""The runnable examples in the stores modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["uniaudio.stores.uri", "uniaudio.stores.schema", "uniaudio.stores.delta", "uniaudio.stores.lineage",
           "uniaudio.stores.tables"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
