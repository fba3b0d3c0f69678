"""Steps of a deployment on a group of the fleet's instances: wait until all are healthy, drain them of
requests, remove them; and the FailureReason of a step that failed. Each runs on the calling
worker thread (fanning out to a small pool)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from dockyard.emulator.sagemaker.deployment import VariantDeployment
from dockyard.emulator.sagemaker.instances import Cancelled, Containers, FleetInstance, StartFailure
from dockyard.emulator.sagemaker.model_data import ModelDataError
from dockyard.errors import DockyardError

log = logging.getLogger("dockyard.emulator.fleet")

Started = list[tuple[FleetInstance, VariantDeployment]]


def wait_all_healthy(containers: Containers, started: Started, cancelled: Callable[[], bool]) -> None:
    """Wait until every started instance passes /ping; the first failure stops the others' waits and is
    raised (:class:`Cancelled` when the work was superseded meanwhile)."""
    if not started:
        return
    failed = threading.Event()

    def wait(item: tuple[FleetInstance, VariantDeployment]) -> None:
        containers.wait_healthy(item[0], item[1], lambda: cancelled() or failed.is_set())

    with ThreadPoolExecutor(max_workers=min(8, len(started))) as pool:
        futures = [pool.submit(wait, item) for item in started]
        errors: list[BaseException] = []
        for future in futures:
            error = future.exception()
            if error is not None and not isinstance(error, Cancelled):
                failed.set()  # the others stop waiting
                errors.append(error)
    if errors:
        raise errors[0]
    if cancelled():
        raise Cancelled


def drain(instances: list[FleetInstance], timeout: float) -> None:
    """Wait until no request is in flight on ``instances`` (no longer routed to)."""
    deadline = time.monotonic() + timeout
    while any(i.route.outstanding > 0 for i in instances) and time.monotonic() < deadline:
        time.sleep(0.02)


def discard(containers: Containers, instances: list[FleetInstance], grace: float) -> None:
    """Stop (SIGTERM, SIGKILL after ``grace`` seconds) and remove ``instances``, all at once."""
    if not instances:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(instances))) as pool:
        list(pool.map(lambda i: containers.remove(i, grace), instances))


def step_failure_reason(exc: Exception) -> str:
    """The endpoint's FailureReason when a deployment step raised ``exc``."""
    if isinstance(exc, StartFailure | ModelDataError):
        return exc.reason
    if isinstance(exc, DockyardError):
        return f"The local fleet could not start the endpoint: {exc.message}"
    log.error("deployment failed unexpectedly", exc_info=exc)
    return f"The local fleet failed unexpectedly: {type(exc).__name__}: {exc}"
