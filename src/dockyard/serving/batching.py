"""Adaptive batching: gather concurrent requests, call predict once, hand each caller its own rows.

The model runs on the worker's event-loop thread, so while one batch is being predicted, new
requests pile up in the socket buffers; the next loop iteration reads them all and they form the
next batch. A batch therefore grows with the load and costs no added latency when the server is
idle (``max_delay`` 0, the default); a positive ``max_delay`` additionally waits up to that long
for a batch to fill. Merging and splitting are pure functions, tested apart from the scheduling.

Only arrays whose trailing shape and dtype agree are stacked; any other input (or a request whose
rows do not match the others) is predicted on its own, so batching never changes an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(slots=True)
class _Pending:
    inputs: Any
    context: RequestContext
    future: asyncio.Future[Any]


class AdaptiveBatcher:
    """Collects ``submit`` calls and runs ``predict`` on stacked inputs.

    ``predict(inputs, context)`` is called synchronously on the event loop with a
    :class:`BatchContext` for merged requests, or the request's own context when it runs alone.
    """

    def __init__(
        self,
        predict: Predict,
        max_size: int,
        max_delay: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self._max_size = max_size
        self._max_delay = max_delay
        self._on_batch = on_batch
        self._queue: list[_Pending] = []
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None

    async def submit(self, inputs: Any, context: RequestContext) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Pending(inputs, context, future))
        if len(self._queue) >= self._max_size:
            self._flush()
        elif self._timer is None:
            # call_soon runs after the loop has read every request that is already waiting.
            if self._max_delay > 0:
                self._timer = loop.call_later(self._max_delay, self._flush)
            else:
                self._timer = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            batch, self._queue = self._queue[: self._max_size], self._queue[self._max_size :]
            self._run(batch)

    def _run(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[Any, ...], list[_Pending]] = {}
        alone: list[_Pending] = []
        for pending in batch:
            if pending.future.cancelled():
                continue
            key = batch_key(pending.inputs)
            if key is None:
                alone.append(pending)
            else:
                groups.setdefault(key, []).append(pending)
        for group in groups.values():
            if len(group) == 1:
                alone.append(group[0])
            else:
                self._run_merged(group)
        for pending in alone:
            self._run_alone(pending)

    def _run_merged(self, group: list[_Pending]) -> None:
        stacked, sizes = merge([pending.inputs for pending in group])
        try:
            pieces = split(self._predict(stacked, BatchContext([p.context for p in group])), sizes)
        except ModelTimeout as exc:
            # Retrying alone could take the timeout once per request; the whole batch ran out of time.
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        except Exception:
            # One bad request must not fail the others: retry each alone, so errors reach their owner.
            for pending in group:
                self._run_alone(pending)
            return
        if self._on_batch is not None:
            self._on_batch(len(group))
        for pending, piece in zip(group, pieces, strict=True):
            if not pending.future.done():
                pending.future.set_result(piece)

    def _run_alone(self, pending: _Pending) -> None:
        try:
            result = self._predict(pending.inputs, pending.context)
        except Exception as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if self._on_batch is not None:
            self._on_batch(1)
        if not pending.future.done():
            pending.future.set_result(result)
