"""The Examples sections of the instruments modules run and print what they say."""
from __future__ import annotations

import doctest
import importlib

import pytest

# By module path: `spanalysis.instruments.reliability` is also the name of a function.
MODULES = ["spanalysis.instruments.model", "spanalysis.instruments.scoring",
           "spanalysis.instruments.service", "spanalysis.instruments.tables",
           "spanalysis.instruments.reliability"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
