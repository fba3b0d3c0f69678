"""1,000 idle connections and slowloris clients: the emulator keeps answering others, then cuts them off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability import scenarios
from tests.reliability.harness import Emulator

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_idle_and_slowloris_connections_do_not_starve_other_clients(
    start_emulator: Callable[..., Emulator],
) -> None:
    emulator = start_emulator(DOCKYARD_EMULATOR_READ_TIMEOUT="3")
    figures = scenarios.slow_clients(emulator, idle=1000, slowloris=50)
    print(figures)
    assert figures["answered_all"] is True, figures
    # Every request of the other client was answered, and not much slower than before the attack.
    assert figures["under_attack_p50_ms"] < max(5 * figures["baseline_p50_ms"], 100), figures
    # Once the read timeout passed, the emulator had closed every one of them.
    assert figures["closed_by_server"] == 1050, figures
