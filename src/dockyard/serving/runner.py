"""Runs requests through the pipeline on the worker's model thread, under a deadline.

The HTTP server runs its event loop in a thread of its own and hands each ``/invocations`` request to
the model thread (the process's main thread, where ``SIGALRM`` can interrupt user code: see
:mod:`dockyard.serving.deadline`) through a queue; the answer comes back to the loop with
``call_soon_threadsafe``. So ``/ping`` answers while a model predicts for seconds, and requests that
arrive meanwhile are read and queued instead of waiting in the socket buffers. All user code (decode,
predict, encode) runs on that one thread, in arrival order, as it did when it ran on the loop; one
worker process per core still gives the parallelism. With batching on, the model thread takes every
request queued when it becomes free (up to the batch size) as one batch.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from typing import Any

from dockyard.serving.batching import Batcher, Failure
from dockyard.serving.context import RequestContext
from dockyard.serving.deadline import Deadline
from dockyard.serving.handler import Pipeline

Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
HOLD_ANSWERS = 0.001  # seconds a ready answer may wait for the next ones, to go back to the loop together


class Job:
    """One request waiting for the model thread; ``future`` belongs to the event loop."""

    __slots__ = ("body", "context", "future", "pipeline")

    def __init__(
        self, body: bytes, context: RequestContext, future: asyncio.Future[Any], pipeline: Pipeline
    ) -> None:
        self.body = body
        self.context = context
        self.future = future
        self.pipeline = pipeline  # the worker's model, or with multi-model serving the one asked for


Jobs = queue.SimpleQueue[Job | None]  # None: the HTTP server has stopped; the model thread stops too


def _settle(outcomes: list[Outcome], batch_sizes: list[int], on_batch: Callable[[int], None] | None) -> None:
    # On the event loop, which also owns the metrics. A future is already done when its request was
    # cancelled (the shutdown's timeout).
    if on_batch is not None:
        for size in batch_sizes:
            on_batch(size)
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class Runner:
    def __init__(
        self,
        pipeline: Pipeline | None,
        deadline: Deadline,
        jobs: Jobs,
        max_batch_size: int = 1,
        max_batch_delay: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.deadline = deadline
        self.jobs = jobs
        self.max_batch_size = max_batch_size
        self.max_batch_delay = max_batch_delay
        self.on_batch = on_batch
        self._batch_sizes: list[int] = []  # predict calls since the last post, reported on the loop
        self.batcher: Batcher | None = None
        if max_batch_size > 1 and pipeline is not None and pipeline.batchable:
            self.batcher = Batcher(self._timed_predict, self._batch_sizes.append)

    # --- on the event loop -------------------------------------------------------------------------

    def submit(
        self,
        body: bytes,
        context: RequestContext,
        loop: asyncio.AbstractEventLoop,
        pipeline: Pipeline | None = None,
    ) -> asyncio.Future[Any]:
        """Queue a request; the future gives ``(payload, content_type)`` or raises what the handler raised.

        ``pipeline`` chooses the model when the worker serves several (multi-model serving, where the
        runner has no model of its own and never batches)."""
        future: asyncio.Future[Any] = loop.create_future()
        chosen = pipeline if pipeline is not None else self.pipeline
        assert chosen is not None, "a multi-model runner needs the pipeline of each request"
        self.jobs.put(Job(body, context, future, chosen))
        return future

    # --- on the model thread -----------------------------------------------------------------------

    def serve(self) -> None:
        """Run queued requests until the HTTP server says it has stopped."""
        jobs = self.jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            if self.batcher is not None:
                batch, stop = self._gather(job)
                self._post(self._run_batch(batch))
            else:
                outcomes, stop = self._run_queued(job)
                self._post(outcomes)
            if stop:
                return

    def _run_queued(self, first: Job) -> tuple[list[Outcome], bool]:
        """Run ``first``, then the requests queued behind it while their answers can wait together.

        Each answer handed to the loop costs a wake-up of the loop thread and a GIL hand-off; under
        load, answers that are ready within ``HOLD_ANSWERS`` of the first go back in one hand-off.
        """
        outcomes = [self._run_one(first)]
        jobs = self.jobs
        held_since = time.perf_counter()
        while not jobs.empty() and time.perf_counter() - held_since < HOLD_ANSWERS:
            job = jobs.get_nowait()
            if job is None:
                return outcomes, True
            outcomes.append(self._run_one(job))
        return outcomes, False

    def _post(self, outcomes: list[Outcome]) -> None:
        if outcomes:
            sizes = self._batch_sizes[:]
            self._batch_sizes.clear()
            outcomes[0][0].get_loop().call_soon_threadsafe(_settle, outcomes, sizes, self.on_batch)

    def _run_one(self, job: Job) -> Outcome:
        if job.future.done():  # cancelled by the shutdown's timeout: nobody waits for it
            return job.future, None, None
        pipeline = job.pipeline
        context = job.context
        deadline = self.deadline
        try:
            deadline.arm()
            try:
                outputs = pipeline.predict(pipeline.decode(job.body, context), context)
                result = pipeline.encode(outputs, context)
            finally:
                deadline.disarm()
        except Exception as exc:
            return job.future, None, exc
        return job.future, result, None

    def _timed_predict(self, inputs: Any, context: Any) -> Any:
        assert self.pipeline is not None  # batching is off without a pipeline of the runner's own
        self.deadline.arm()
        try:
            return self.pipeline.predict(inputs, context)
        finally:
            self.deadline.disarm()

    def _timed(self, stage: Callable[[Any, RequestContext], Any], value: Any, context: RequestContext) -> Any:
        self.deadline.arm()
        try:
            return stage(value, context)
        finally:
            self.deadline.disarm()

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        """The first job and whatever else is queued, up to the batch size (waiting up to the delay)."""
        batch = [first]
        limit = self.max_batch_size
        get = self.jobs.get
        delay = self.max_batch_delay
        wait_until = time.monotonic() + delay
        while len(batch) < limit:
            try:
                job = get(timeout=max(0.0, wait_until - time.monotonic())) if delay else get(block=False)
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run_batch(self, batch: list[Job]) -> list[Outcome]:
        assert self.batcher is not None
        assert self.pipeline is not None
        pipeline = self.pipeline
        outcomes: list[Outcome] = []
        decoded: list[tuple[Any, RequestContext]] = []
        owners: list[Job] = []
        for job in batch:
            try:
                decoded.append((self._timed(pipeline.decode, job.body, job.context), job.context))
                owners.append(job)
            except Exception as exc:
                outcomes.append((job.future, None, exc))
        try:
            results = self.batcher.run(decoded)
        except Exception as exc:  # a timeout outside predict itself: fails the batch it hit
            return outcomes + [(job.future, None, exc) for job in owners]
        for job, result in zip(owners, results, strict=True):
            if isinstance(result, Failure):
                outcomes.append((job.future, None, result.error))
                continue
            try:
                outcomes.append((job.future, self._timed(pipeline.encode, result, job.context), None))
            except Exception as exc:
                outcomes.append((job.future, None, exc))
        return outcomes
