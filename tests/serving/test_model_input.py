"""Shaping decoded values into model input (to_array) and telling the envelope apart (wrapped)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from dockyard.serving.codecs import decode, encode
from dockyard.serving.errors import BadRequest
from dockyard.serving.model_input import to_array, wrapped
from tests.serving.test_codecs import npz

SHAPES = (
    'accepted shapes: rows of numbers [[1, 2], [3, 4]], one row [1, 2], {"instances": rows}, '
    '{"inputs": rows} or {"inputs": {"name": array, ...}}, or a CSV, NPY or NPZ body'
)


def test_to_array_shapes() -> None:
    rows = to_array([[1, 2], [3, 4]])
    assert isinstance(rows, np.ndarray)
    assert rows.shape == (2, 2)
    assert rows.dtype == np.int64
    one = to_array([1.5, 2, 3])
    assert isinstance(one, np.ndarray)
    assert one.shape == (1, 3)
    assert one.dtype == np.float64
    assert to_array({"instances": [True, False]}).shape == (1, 2)  # type: ignore[union-attr]
    texts = to_array({"instances": ["good movie", "bad movie"]})
    assert isinstance(texts, np.ndarray)
    assert texts.shape == (2,)  # a 1-D list of strings is a batch of documents, not one row
    np.testing.assert_array_equal(to_array({"inputs": [[0.5]]}), [[0.5]])


def test_to_array_named_inputs_keep_their_shapes() -> None:
    named = to_array({"inputs": {"ids": [1, 2, 3], "mask": [[1, 1, 0]], "t": 0.5}})
    assert isinstance(named, dict)
    assert {k: v.shape for k, v in named.items()} == {"ids": (3,), "mask": (1, 3), "t": ()}


def test_to_array_passes_arrays_through() -> None:
    array = np.ones((2, 3))
    assert to_array(array) is array
    arrays = {"x": np.ones(2), "y": np.zeros(3)}
    assert to_array(arrays) is arrays
    npz_body = decode(npz(x=np.ones((1, 2))), "application/x-npz")
    assert to_array(npz_body) is npz_body
    for members in ({"inputs": np.ones(2), "mask": np.ones(2)}, {"instances": array}):  # NPZ member names
        assert to_array(members) is members
        assert not wrapped(members)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"a": 1}, {"a": 2}], f"the request body: records (JSON objects) are not model input; {SHAPES}"),
        ({"instances": [[{"a": 1}]]}, f'"instances": records (JSON objects) are not model input; {SHAPES}'),
        ([[1, 2], [3]], f"the request body: ragged input, every row must have the same length; {SHAPES}"),
        ([1, "a"], "the request body: mixes strings with a number (1)"),
        ([["a", True]], "the request body: mixes strings with a boolean (True)"),
        ([1, None], f"the request body: null is not a model input value; {SHAPES}"),
        (
            [2**70],
            f"the request body: an integer outside the 64-bit range is not a model input value; {SHAPES}",
        ),
        ([], f"the request body: empty input; {SHAPES}"),
        ([[]], f"the request body: empty input; {SHAPES}"),
        (3, f"the request body is a number; {SHAPES}"),
        ("text", f"the request body is a string; {SHAPES}"),
        (None, f"the request body is null; {SHAPES}"),
        (b"raw", f"the request body is raw bytes; {SHAPES}"),
        ({"a": 1}, f"the request body is a JSON object; {SHAPES}"),
        ({}, f"the request body is a JSON object; {SHAPES}"),
        ({"instances": "abc"}, f'"instances" is a string; {SHAPES}'),
        ({"inputs": {}}, f'"inputs" is a JSON object; {SHAPES}'),
        ({"inputs": {"x": [1, None]}}, f'"inputs"["x"]: null is not a model input value; {SHAPES}'),
        (
            {"instances": [1], "inputs": [1]},
            'the request has both "instances" and "inputs"; send one of them',
        ),
    ],
)
def test_to_array_errors(value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as excinfo:
        to_array(value)
    assert excinfo.value.message == message


def test_wrapped() -> None:
    assert wrapped({"instances": [[1]]})
    assert wrapped({"inputs": {"x": [1]}})
    assert not wrapped([[1]])
    assert not wrapped({"data": [1]})
    assert not wrapped(np.ones(2))
    assert not wrapped(b"instances")


def test_json_body_end_to_end() -> None:
    body = orjson.dumps({"instances": [[0.1 * i for i in range(10)]]})
    value = decode(body, "application/json")
    assert wrapped(value)
    features = to_array(value)
    assert isinstance(features, np.ndarray)
    assert features.shape == (1, 10)
    assert encode(features.sum(axis=1), "application/json") == orjson.dumps([float(features.sum())])
