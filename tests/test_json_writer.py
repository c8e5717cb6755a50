"""render/formats.py writes JSON itself for reports of a few thousand items (importing pydantic_core costs
more than writing them): byte for byte as pydantic_core writes it, which the golden files were made with."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from cnncalc import zoo
from cnncalc.planner import plan_data
from cnncalc.render import formats
from cnncalc.source import design_text

SCALARS = st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30) | st.text()
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                    | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(value=JSON)
def test_any_json_of_these_types_is_written_as_pydantic_core_writes_it(value):
    assert formats.write_json(value) == to_json(value, indent=2).decode()


@given(value=st.floats(allow_nan=False) | st.lists(st.floats(allow_nan=False), min_size=1))
def test_a_float_is_left_to_pydantic_core(value):
    """Rust and Python write some floats differently (1e-05, 1e16): to_json hands those to pydantic_core."""
    with pytest.raises(KeyError):
        formats.write_json(value)
    assert formats.to_json({"x": value}) == to_json({"x": value}, indent=2).decode()


@pytest.mark.parametrize("name", zoo.names())
def test_every_built_in_plan_is_written_as_pydantic_core_writes_it(name):
    data = plan_data(design_text(name, None)[0], batch=3, budget="8GiB")
    assert formats.to_json(data) == to_json(data, indent=2).decode()


def test_a_long_report_is_written_in_pieces_as_one(monkeypatch):
    """json_pieces: the rows and blocks past JSON_CHUNK, serialised a chunk at a time, each as a key's value."""
    monkeypatch.setattr(formats, "JSON_CHUNK", 3)
    for design in ("INPUT 32x32x16 -> [CONV3-16 -> RELU]*5 -> GAP -> FC-10", "INPUT 8x8x3 -> CONV3-4",
                   "INPUT 32x32x3 -> [CONV3-8 -> (ID + [CONV3-8 -> RELU]) -> RELU]*2 -> GAP -> FC-10"):
        data = plan_data(design)
        pieces = list(formats.json_pieces(data))
        assert "".join(pieces) == to_json(data, indent=2).decode() + "\n"
        assert len(pieces) > 1 or len(data["layers"]) <= 3


def test_a_list_at_the_top_is_written_too():
    """The zoo's JSON is a list of designs."""
    value = [{"name": "vgg16", "params": 138_357_544, "tags": ["classic"]}, {"name": "ünïcode\n", "params": None}]
    assert formats.to_json(value) == to_json(value, indent=2).decode()
