"""Adaptive batching: stack the rows of requests that waited together, predict once, split the answer.

The model runs on the worker's model thread (see :mod:`dockyard.serving.runner`). While it predicts,
the event loop keeps reading requests and queueing them; when it is free it takes everything queued
(up to the batch size) as the next batch. A batch therefore grows with the load and costs no added
latency when the server is idle (``max_delay`` 0, the default); a positive ``max_delay`` additionally
waits up to that long for a batch to fill. Merging and splitting are pure functions, tested apart
from the scheduling.

Only arrays whose trailing shape and dtype agree are stacked; any other input (or a request whose
rows do not match the others) is predicted on its own, so batching never changes an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dockyard.serving.context import RequestContext
from dockyard.serving.errors import ModelTimeout
from dockyard.serving.handler import BatchContext

Predict = Callable[[Any, Any], Any]


def batch_key(inputs: Any) -> tuple[Any, ...] | None:
    """Requests with equal keys can be stacked along the first axis; None means 'predict alone'."""
    if isinstance(inputs, np.ndarray) and inputs.ndim >= 1 and inputs.dtype != object:
        return (inputs.shape[1:], inputs.dtype.str)
    return None


def merge(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Stack the requests' rows; return the stacked array and each request's row count."""
    sizes = [len(part) for part in parts]
    return np.concatenate(parts, axis=0), sizes


def split(outputs: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut a batch's outputs back into one piece per request (first axis, same order as merged)."""
    total = sum(sizes)
    if isinstance(outputs, dict):
        columns = {name: split(value, sizes) for name, value in outputs.items()}
        return [{name: pieces[index] for name, pieces in columns.items()} for index in range(len(sizes))]
    if isinstance(outputs, tuple):
        columns_t = [split(value, sizes) for value in outputs]
        return [tuple(pieces[index] for pieces in columns_t) for index in range(len(sizes))]
    if not hasattr(outputs, "__len__") or len(outputs) != total:
        length = len(outputs) if hasattr(outputs, "__len__") else "no"
        raise ValueError(
            f"batched predict returned {type(outputs).__name__} with {length} rows for {total} input rows; "
            "with batching on, predict must return one row per input row"
        )
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(outputs[start : start + size])
        start += size
    return pieces


class Failure:
    """What ``Batcher.run`` gives a request whose prediction raised (a model may return exceptions)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Batcher:
    """Predicts a list of decoded requests with as few ``predict`` calls as their shapes allow.

    ``predict(inputs, context)`` gets a :class:`BatchContext` for merged requests, or the request's
    own context when it runs alone. ``run`` returns, for each request in order, its outputs or a
    :class:`Failure` holding what its prediction raised: one request's error never fails the others,
    except a timeout, which fails the whole batch it ran out of time in (retrying each alone could
    take it once per request).
    """

    def __init__(self, predict: Predict, on_batch: Callable[[int], None] | None = None) -> None:
        self._predict = predict
        self._on_batch = on_batch

    def run(self, requests: Sequence[tuple[Any, RequestContext]]) -> list[Any]:
        results: list[Any] = [None] * len(requests)
        groups: dict[tuple[Any, ...], list[int]] = {}
        alone: list[int] = []
        for index, (inputs, _) in enumerate(requests):
            key = batch_key(inputs)
            if key is None:
                alone.append(index)
            else:
                groups.setdefault(key, []).append(index)
        for group in groups.values():
            if len(group) == 1:
                alone.append(group[0])
            else:
                self._run_merged(requests, group, results)
        for index in alone:
            results[index] = self._run_alone(*requests[index])
        return results

    def _run_merged(
        self, requests: Sequence[tuple[Any, RequestContext]], group: list[int], results: list[Any]
    ) -> None:
        stacked, sizes = merge([requests[index][0] for index in group])
        try:
            outputs = self._predict(stacked, BatchContext([requests[index][1] for index in group]))
            pieces = split(outputs, sizes)
        except ModelTimeout as exc:
            for index in group:
                results[index] = Failure(exc)
            return
        except Exception:
            for index in group:
                results[index] = self._run_alone(*requests[index])
            return
        if self._on_batch is not None:
            self._on_batch(len(group))
        for index, piece in zip(group, pieces, strict=True):
            results[index] = piece

    def _run_alone(self, inputs: Any, context: RequestContext) -> Any:
        try:
            result = self._predict(inputs, context)
        except Exception as exc:
            return Failure(exc)
        if self._on_batch is not None:
            self._on_batch(1)
        return result
