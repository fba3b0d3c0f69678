"""The Docker engine stopped and started under load: endpoints reported honestly, recovered after."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.reliability.engine_outage import engine_outage, restart_without_engine
from tests.reliability.engine_proxy import EngineProxy
from tests.reliability.harness import Emulator

pytestmark = [pytest.mark.reliability, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def engine_proxy() -> Iterator[EngineProxy]:
    proxy = EngineProxy()
    proxy.start()
    yield proxy
    proxy.close()


def test_an_engine_outage_is_reported_and_healed(
    start_emulator: Callable[..., Emulator], engine_proxy: EngineProxy, serving_image: str
) -> None:
    emulator = start_emulator(DOCKER_HOST=engine_proxy.url)
    figures = engine_outage(emulator, engine_proxy, serving_image)
    print(figures)
    # The container kept serving while only the engine was gone.
    assert figures["failed_while_engine_gone"] == 0, figures
    assert figures["served_while_engine_gone"] > 5, figures
    assert figures["statuses_while_engine_gone"] == ["InService"], figures
    # Its container stopped too: reported within a few monitor rounds, with the cause.
    assert figures["out_of_service_s"] < 10, figures
    assert figures["failure_reason"].startswith(
        f"The Docker engine at {engine_proxy.url} does not answer: connection refused. No instance of "
        "endpoint dy-rel-engine passes its health check, and the local fleet cannot replace them until "
        "the engine answers again."
    ), figures
    assert figures["instances_while_out"] == 0, figures
    # Only requests sent while the container was stopping broke (ModelError); later ones are refused.
    assert set(figures["errors"]) <= {"ServiceUnavailable", "ModelError"}, figures
    assert figures["broken_after_stop"] == 0, figures
    assert figures["slowest_failure_s"] < 10, figures  # never a hang
    assert figures["refused_while_out"] > 0, figures
    assert figures["served_while_out"] == 0, figures
    assert figures["slowest_refusal_while_out_s"] < 1, figures
    # Engine back: a replacement serves, InService by itself.
    assert figures["in_service_after_engine_back_s"] < 60, figures
    assert figures["invocations_back_s"] < 60, figures
    assert figures["healthy_after"] == 1, figures
    assert figures["replaced"] is True, figures


def test_an_emulator_restarted_without_the_engine_waits_for_it(
    start_emulator: Callable[..., Emulator], engine_proxy: EngineProxy, serving_image: str
) -> None:
    emulator = start_emulator(DOCKER_HOST=engine_proxy.url)
    figures = restart_without_engine(emulator, engine_proxy, serving_image)
    print(figures)
    assert figures["failure_reason"].startswith(
        f"The Docker engine at {engine_proxy.url} does not answer: connection refused. No instance of "
        "endpoint dy-rel-engine-restart passes its health check"
    ), figures
    assert figures["refusal"] == (
        "ServiceUnavailable: Endpoint dy-rel-engine-restart is OutOfService: none of its instances can take "
        "requests now (DescribeEndpoint's FailureReason says why). Please try again later."
    ), figures
    assert figures["in_service_after_engine_back_s"] < 30, figures
    assert figures["answer"] == "30.0\n", figures
    assert figures["adopted"] is True, figures
