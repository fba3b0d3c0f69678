"""Unpacked model data is removed once no container uses it, and what is held or freed is reported."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from dockyard.emulator.route_table import Router
from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.emulator.runtime.fleet_kit import (
    PREFIX,
    Recorder,
    containers_of,
    deployment,
    images,
    key,
    model_archive,
)
from tests.emulator.runtime.fleet_kit import variant as make_variant
from tests.fixture_images import remove_fixture_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[Callable[[str], str]]:
    yield images(docker_client, base_image)
    remove_fixture_images(docker_client)


def test_model_data_of_deleted_endpoints_is_collected_and_reported(
    tmp_path: Path, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    events = Recorder()
    state = tmp_path / "state"
    fleet = Reconciler(
        state,
        Router(),
        events,
        container_prefix=PREFIX,
        monitor_interval=0.3,
        stop_grace=2.0,
        collect_grace=0,
        model_data_roots=(tmp_path,),
    )
    fleet.start()
    try:
        kept = make_variant(image("dockyard"), model_url=model_archive(tmp_path / "a").as_uri())
        dropped = make_variant(
            image("dockyard"), model_url=model_archive(tmp_path / "b", [4, 3, 2, 1]).as_uri()
        )
        fleet.deploy(deployment("dy-gc-kept", kept))
        fleet.deploy(deployment("dy-gc-dropped", dropped))
        assert events.wait("dy-gc-kept").kind == "succeeded"
        assert events.wait("dy-gc-dropped").kind == "succeeded"
        # A leftover of a fetch an earlier emulator never finished, and an unused directory it left.
        stale = state / "downloads" / "tmp-killed"
        stale.mkdir(parents=True)
        orphan = state / "models" / ("0" * 64)
        orphan.mkdir()
        (orphan / "weights.bin").write_bytes(b"x" * 1000)
        for path in (stale, orphan):
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        before = fleet.collector.report()
        assert before.held_directories == 3

        fleet.remove(key("dy-gc-dropped"))
        assert events.wait("dy-gc-dropped", count=2).kind == "removed"
        after = fleet.collector.report()
        held = sorted(p.name for p in (state / "models").iterdir())
        assert len(held) == 1, (held, fleet.collector._mounted())
        in_use = state / "models" / held[0]
        assert in_use.resolve() in fleet.collector._mounted()
        assert after.held_directories == 1
        assert after.collected_directories == 2
        assert after.collected_bytes == before.held_bytes - after.held_bytes
        assert not stale.exists()
        # Nothing removed while in use: a second pass keeps the running endpoint's data.
        assert fleet.collector.collect() == 0
    finally:
        fleet.stop_all()
        fleet.close()
    assert containers_of(docker_client, fleet) == []
