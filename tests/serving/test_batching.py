"""Adaptive batching: merge/split as pure functions, and grouping a batch into predict calls."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.serving.batching import Batcher, Failure, batch_key, merge, split
from dockyard.serving.context import RequestContext
from dockyard.serving.errors import ModelTimeout
from dockyard.serving.handler import BatchContext


def _context(index: int) -> RequestContext:
    return RequestContext.from_headers(f"r-{index}", {}, "application/json", "application/json")


row_counts = st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=40)


@given(row_counts, st.integers(min_value=1, max_value=5))
def test_split_inverts_merge(sizes: list[int], width: int) -> None:
    parts = [
        np.arange(size * width, dtype=float).reshape(size, width) + index for index, size in enumerate(sizes)
    ]
    stacked, counted = merge(parts)
    assert counted == sizes
    for original, piece in zip(parts, split(stacked, counted), strict=True):
        np.testing.assert_array_equal(original, piece)


def test_split_handles_dicts_tuples_and_lists() -> None:
    outputs = {"label": np.array([1, 2, 3]), "proba": np.array([[0.1], [0.2], [0.3]])}
    first, second = split(outputs, [1, 2])
    np.testing.assert_array_equal(first["label"], [1])
    np.testing.assert_array_equal(second["proba"], [[0.2], [0.3]])
    assert split(([1, 2, 3], ["a", "b", "c"]), [2, 1]) == [([1, 2], ["a", "b"]), ([3], ["c"])]
    with pytest.raises(ValueError, match="returned ndarray with 2 rows for 3 input rows"):
        split(np.zeros(2), [1, 2])


def test_only_plain_arrays_with_equal_row_shapes_share_a_key() -> None:
    assert batch_key(np.zeros((2, 3))) == batch_key(np.ones((5, 3)))
    assert batch_key(np.zeros((2, 3))) != batch_key(np.zeros((2, 4)))
    assert batch_key(np.zeros((2, 3))) != batch_key(np.zeros((2, 3), dtype=np.int64))
    assert batch_key(np.array(["a", 1], dtype=object)) is None
    assert batch_key({"x": np.zeros(2)}) is None
    assert batch_key(b"raw") is None
    assert batch_key(np.float64(1.0)) is None


class RecordingModel:
    """Doubles its input; remembers how many requests each call carried; fails on negative input."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, inputs: Any, context: Any) -> Any:
        self.calls.append(len(context.requests) if isinstance(context, BatchContext) else 1)
        if isinstance(inputs, np.ndarray) and (inputs < 0).any():
            raise ValueError("negative input")
        return inputs * 2


def _run(batcher: Batcher, requests: list[Any]) -> list[Any]:
    return batcher.run([(inputs, _context(index)) for index, inputs in enumerate(requests)])


@settings(max_examples=60, deadline=None)
@given(
    sizes=row_counts,
    widths=st.lists(st.sampled_from([2, 3]), min_size=1, max_size=40),
    bad=st.sets(st.integers(min_value=0, max_value=39), max_size=3),
)
def test_every_caller_gets_its_own_rows(sizes: list[int], widths: list[int], bad: set[int]) -> None:
    requests = []
    for index, size in enumerate(sizes):
        width = widths[index % len(widths)]
        rows = np.arange(size * width, dtype=float).reshape(size, width) + 100 * index
        requests.append(-rows - 1 if index in bad else rows)
    model = RecordingModel()
    batches: list[int] = []
    results = _run(Batcher(model, batches.append), requests)
    for index, (inputs, result) in enumerate(zip(requests, results, strict=True)):
        if index in bad:
            assert isinstance(result, Failure), "a failing request gets its own error"
            assert str(result.error) == "negative input"
        else:
            np.testing.assert_array_equal(result, inputs * 2)
    assert sum(batches) == len(requests) - len(bad & set(range(len(requests))))


def test_requests_with_equal_row_shapes_are_merged_into_one_call() -> None:
    model = RecordingModel()
    batches: list[int] = []
    requests = [np.full((1, 4), float(index)) for index in range(10)] + [np.ones((2, 3))]
    results = _run(Batcher(model, batches.append), requests)
    assert model.calls == [10, 1]
    assert batches == [10, 1]
    for inputs, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result, inputs * 2)


def test_timeout_fails_the_whole_batch_without_retrying_each_request() -> None:
    calls: list[int] = []

    def slow(inputs: Any, context: Any) -> Any:
        calls.append(len(inputs))
        raise ModelTimeout("the model did not answer within the 1 s timeout")

    results = _run(Batcher(slow), [np.ones((1, 2))] * 3)
    assert calls == [3]
    assert all(isinstance(result, Failure) and isinstance(result.error, ModelTimeout) for result in results)


def test_a_batch_of_the_wrong_length_falls_back_to_single_calls() -> None:
    seen: list[int] = []

    def summarize(inputs: Any, context: Any) -> Any:
        seen.append(len(inputs))
        return np.array([inputs.sum()])  # one row for the whole input: wrong under batching

    results = _run(Batcher(summarize), [np.ones((1, 2)), np.ones((1, 2)) * 3])
    assert seen == [2, 1, 1]
    assert [float(result[0]) for result in results] == [2.0, 6.0]
