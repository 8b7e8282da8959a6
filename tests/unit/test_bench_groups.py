"""Every figure group `bench` lists can be loaded: a full run takes minutes, so a broken import in a rarely
run group shows up here (group modules import what they measure at module level, so loading checks it)."""

import importlib

import pytest

from core.bench import FIGURE_GROUPS


@pytest.mark.parametrize(("name", "target"), FIGURE_GROUPS, ids=[name for name, _ in FIGURE_GROUPS])
def test_each_figure_group_resolves_to_a_function(name, target):
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
