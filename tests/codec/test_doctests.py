"""The runnable examples in the codec modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["codec.config", "codec.spectral", "codec.seanet", "codec.quantizer", "codec.model", "codec.discriminator",
           "codec.losses", "codec.train_step", "codec.export", "codec.api"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
