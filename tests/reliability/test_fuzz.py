"""Fuzzing the live emulator from botocore's shapes and with mutated raw bodies: never a 5xx or a hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import fuzzing
from tests.reliability.harness import Emulator

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

EXAMPLES = 20  # per operation and kind: about 1,500 requests in all


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path_factory.mktemp("fuzz") / "state")
    emulator.start()
    yield emulator
    emulator.stop()
    emulator.remove_containers()


def test_every_operation_answers_generated_parameters_well_formed(fuzzed: Emulator) -> None:
    operations = fuzzing.supported_operations(fuzzed)
    assert len(operations) >= 26
    figures = fuzzing.fuzz_operations(fuzzed, EXAMPLES)
    print(figures)
    assert figures["server_errors"] == 0, figures
    # Hypothesis runs fewer examples where an input has few distinct values (ListModels' filters).
    assert figures["requests"] + figures["not_serializable"] >= 20 * len(operations), figures
    assert fuzzed.ready()


def test_mutated_raw_bodies_get_protocol_errors(fuzzed: Emulator) -> None:
    figures = fuzzing.fuzz_raw_bodies(fuzzed, EXAMPLES)
    print(figures)
    assert figures["server_errors"] == 0, figures
    assert {"SerializationException", "ValidationException"} <= set(figures["codes"]), figures
    assert fuzzed.ready()


def test_a_ten_megabyte_field_comes_back_as_a_small_error(fuzzed: Emulator, tmp_path: Path) -> None:
    name = "n" * 10_000_000
    response = fuzzing.signed_post(
        fuzzed, "SageMaker.DescribeEndpoint", b'{"EndpointName": "' + name.encode() + b'"}'
    )
    assert response.status_code == 400
    assert len(response.content) < 2048, len(response.content)
    assert response.json()["__type"] == "ValidationException"
    assert f"Value '{'n' * 256}...' at 'endpointName'" in response.json()["message"]
