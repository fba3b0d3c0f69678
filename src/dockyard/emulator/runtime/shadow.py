"""Shadow variants: a copy of a share of the requests, sent after the production variant has answered.

SageMaker sends a shadow variant the share of requests its weight is of the production variants'
(the fleet puts that share in the shadow's route). The copy is fire-and-forget: it starts only once the
caller's answer is in hand, nobody waits for it, and what the shadow answers, or how it fails, is only
logged (its container's own output is in its variant's log streams).
"""

from __future__ import annotations

import asyncio
import logging
import random

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.route_table import EndpointRoute, Instance, ReportUnreachable
from dockyard.emulator.runtime.relay import ConnectFailed, Pool, RelayError

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 1024  # mirrored requests at once; beyond that copies are skipped (and counted)


class Mirror:
    def __init__(self, report_unreachable: ReportUnreachable, timeout: float) -> None:
        self.report_unreachable = report_unreachable
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self.skipped = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def mirror(
        self, pool: Pool, route: EndpointRoute, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        """Start a copy of the request for each shadow variant whose share draws it; returns at once."""
        for shadow in route.shadows:
            if shadow.weight < 1.0 and random.random() >= shadow.weight:
                continue
            instance = shadow.pick()
            if instance is None or len(self._tasks) >= MAX_IN_FLIGHT:
                self.skipped += 1
                continue
            task = asyncio.ensure_future(
                self._send(pool, route.endpoint, shadow.name, instance, path, headers, body)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(
        self,
        pool: Pool,
        endpoint: ResourceKey,
        variant: str,
        instance: Instance,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        instance.outstanding += 1
        try:
            async with asyncio.timeout(self.timeout):
                response = await pool.post(instance.origin, path, headers, body)
        except (RelayError, TimeoutError) as exc:
            self.failed += 1
            if isinstance(exc, ConnectFailed):
                instance.healthy = False
                self.report_unreachable(endpoint, instance.instance_id)
            log.warning(
                "shadow variant %s of endpoint %s failed: %s", variant, endpoint.name, exc or "timeout"
            )
            return
        finally:
            instance.outstanding -= 1
        if 200 <= response.status < 300:
            self.sent += 1
        else:
            self.failed += 1
            text = response.body[:200].decode("utf-8", "replace")
            log.warning(
                "shadow variant %s of endpoint %s answered %d: %s",
                variant,
                endpoint.name,
                response.status,
                text,
            )

    async def aclose(self) -> None:
        """Let the copies in flight finish (they are bounded by the invocation timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped}
