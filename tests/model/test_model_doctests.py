"""The examples in the model package's docstrings run and stay true."""

import doctest
import importlib

import pytest

MODULES = ["batch", "config", "flops", "multiscale", "output_mask"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"uniaudio.model.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
