"""The numpydoc examples of causal.stats run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "causal.stats._decision",
    "causal.stats._effects",
    "causal.stats._moments",
    "causal.stats._multitest",
    "causal.stats._power",
    "causal.stats._sequential",
    "causal.stats._srm",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
