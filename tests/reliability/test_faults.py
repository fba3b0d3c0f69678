"""Faults under a bounded load of real boto3 invocations, every request counted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability import scenarios
from tests.reliability.harness import Emulator, tmpfs

pytestmark = [pytest.mark.reliability, pytest.mark.docker, pytest.mark.slow]


def test_a_killed_instance_costs_at_most_its_requests_in_flight_and_is_replaced(
    start_emulator: Callable[..., Emulator], serving_image: str
) -> None:
    figures = scenarios.container_killed(start_emulator(), serving_image)
    print(figures)
    assert figures["failed_after_kill"] <= figures["in_flight_bound"], figures
    assert figures["failed"] == figures["failed_after_kill"], figures
    assert figures["requests"] > 20, figures
    assert figures["full_capacity_s"] < 60, figures


def test_a_sigkilled_emulator_loses_nothing_and_readopts_its_endpoints(
    start_emulator: Callable[..., Emulator], serving_image: str
) -> None:
    figures = scenarios.emulator_killed(start_emulator(), serving_image)
    print(figures)
    assert figures["lost"] == {}, figures
    assert figures["kept"] == {"models": 1, "configs": 1, "endpoints": 1, "package_versions": 2}, figures
    assert figures["readopted"] is True, figures
    assert figures["status"] == "InService", figures
    assert figures["invocations_back_s"] < 30, figures


def test_updates_under_load_fail_no_request(
    start_emulator: Callable[..., Emulator], serving_image: str
) -> None:
    figures = scenarios.updates_under_load(start_emulator(), serving_image)
    print(figures)
    assert figures["failed"] == 0, figures
    assert figures["requests"] > 20, figures


def test_a_full_state_directory_gives_clear_errors_and_keeps_the_database_sound(
    start_emulator: Callable[..., Emulator], serving_image: str, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "small", "16m") as small:
        emulator = start_emulator(small / "state")
        try:
            figures = scenarios.disk_full(emulator, serving_image)
        finally:
            emulator.stop()
    print(figures)
    assert figures["refused"], figures
    for refusal in figures["refused"]:
        assert refusal.startswith(
            f"503 ServiceUnavailable: The emulator's state directory {small / 'state'} is full "
            "(database or disk is full): nothing was changed. Free space there and retry."
        ), figures
    assert figures["integrity_check"] == "ok", figures
    assert figures["models_after"] == 2 + figures["created_while_full"], figures
    assert figures["endpoint_status"] == "Failed", figures
    assert "must stay free (DOCKYARD_UNPACK_MIN_FREE)" in figures["failure_reason"], figures
