"""The numpydoc examples of causal.graph run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "causal.graph",
    "causal.graph._graph",
    "causal.graph._svg",
    "causal.graph._identify",
    "causal.graph._sensitivity",
    "causal.graph._robustness",
    "causal.graph._attribution",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
