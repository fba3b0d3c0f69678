"""The instance-type table, checked against botocore's hosting types, and the limits it gives Docker."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import botocore.session
import docker
import docker.errors
import pytest
from botocore.model import StringShape

from dockyard.errors import UsageError
from dockyard.instance_types import GIB, INSTANCE_TYPES, InstanceType, container_limits, instance_type

# The families dockyard knows.
FAMILIES = (
    "t2",
    "m5",
    "m5d",
    "m6i",
    "m7i",
    "c5",
    "c6i",
    "c7i",
    "r5",
    "r6i",
    "g4dn",
    "g5",
    "g6",
    "p3",
    "p4d",
    "inf2",
)


def _hosting_types() -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.shape_for("ProductionVariantInstanceType")
    assert isinstance(shape, StringShape)
    return list(shape.enum)


def test_every_type_is_one_sagemaker_accepts_for_endpoints_and_no_size_is_missing() -> None:
    hosting = _hosting_types()
    assert set(INSTANCE_TYPES) <= set(hosting)
    expected = {name for name in hosting if name.split(".")[1] in FAMILIES}
    assert set(INSTANCE_TYPES) == expected
    assert "ml.t3.medium" not in hosting  # why ml.t3 is absent


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gib", "gpus"),
    [
        ("ml.t2.medium", 2, 4, 0),
        ("ml.t2.2xlarge", 8, 32, 0),
        ("ml.m5.large", 2, 8, 0),
        ("ml.m5d.24xlarge", 96, 384, 0),
        ("ml.m6i.32xlarge", 128, 512, 0),
        ("ml.m7i.48xlarge", 192, 768, 0),
        ("ml.c5.large", 2, 4, 0),
        ("ml.c5.9xlarge", 36, 72, 0),
        ("ml.c5.18xlarge", 72, 144, 0),
        ("ml.c6i.16xlarge", 64, 128, 0),
        ("ml.c7i.48xlarge", 192, 384, 0),
        ("ml.r5.large", 2, 16, 0),
        ("ml.r6i.32xlarge", 128, 1024, 0),
        ("ml.g4dn.xlarge", 4, 16, 1),
        ("ml.g4dn.12xlarge", 48, 192, 4),
        ("ml.g4dn.16xlarge", 64, 256, 1),
        ("ml.g5.24xlarge", 96, 384, 4),
        ("ml.g5.48xlarge", 192, 768, 8),
        ("ml.g6.12xlarge", 48, 192, 4),
        ("ml.p3.2xlarge", 8, 61, 1),
        ("ml.p3.16xlarge", 64, 488, 8),
        ("ml.p4d.24xlarge", 96, 1152, 8),
        ("ml.inf2.xlarge", 4, 16, 0),
        ("ml.inf2.48xlarge", 192, 768, 0),
    ],
)
def test_figures_match_aws(name: str, vcpus: int, memory_gib: int, gpus: int) -> None:
    assert instance_type(name) == InstanceType(name, vcpus, memory_gib, gpus)


def test_instance_types_are_frozen() -> None:
    spec = instance_type("ml.m5.large")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.vcpus = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "ml.m5.larg",
            "'ml.m5.larg' is not a SageMaker hosting instance type; "
            "did you mean ml.m5.large, ml.m5d.large or ml.m5.xlarge?",
        ),
        ("m5.large", "'m5.large' is not a SageMaker hosting instance type; did you mean ml.m5.large?"),
        (
            "ML.G5.XLARGE",
            "'ML.G5.XLARGE' is not a SageMaker hosting instance type; did you mean ml.g5.xlarge?",
        ),
        (
            "ml.t3.medium",
            "'ml.t3.medium' is not a SageMaker hosting instance type; ml.t3 serves notebooks and training, "
            "not endpoints (the smallest endpoint types are ml.t2.*)",
        ),
        (
            "huge",
            "'huge' is not a SageMaker hosting instance type; the known families are ml.c5.*, ml.c6i.*, "
            "ml.c7i.*, ml.g4dn.*, ml.g5.*, ml.g6.*, ml.inf2.*, ml.m5.*, ml.m5d.*, ml.m6i.*, ml.m7i.*, "
            "ml.p3.*, ml.p4d.*, ml.r5.*, ml.r6i.*, ml.t2.*",
        ),
    ],
)
def test_an_unknown_name_suggests_the_closest(name: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        instance_type(name)
    assert caught.value.message == message
    assert caught.value.exit_code == 2


def test_container_limits_are_the_instance_s_capped_at_the_host_s_cpus() -> None:
    assert container_limits("ml.m5.xlarge", host_cpus=8) == (4_000_000_000, 16 * GIB)
    assert container_limits("ml.m5.xlarge", host_cpus=2) == (2_000_000_000, 16 * GIB)
    assert container_limits("ml.t2.medium") == (min(2, os.cpu_count() or 1) * 1_000_000_000, 4 * GIB)
    with pytest.raises(UsageError) as caught:
        container_limits("ml.c5.larg")
    assert caught.value.message.endswith("did you mean ml.c5.large, ml.c5.xlarge or ml.c5.9xlarge?")


@pytest.mark.docker
def test_the_engine_accepts_the_limits_and_would_refuse_uncapped_cpus(
    docker_client: docker.DockerClient, base_image: str
) -> None:
    engine_cpus = int(docker_client.info()["NCPU"])
    spec = instance_type("ml.p4d.24xlarge")
    assert spec.vcpus > engine_cpus  # the cap matters on any test machine
    nano_cpus, mem_bytes = container_limits(spec.name, host_cpus=engine_cpus)
    try:
        container = docker_client.containers.create(
            base_image, ["true"], name="dy-init-limits", nano_cpus=nano_cpus, mem_limit=mem_bytes
        )
        container.reload()
        host_config = container.attrs["HostConfig"]
        assert (host_config["NanoCpus"], host_config["Memory"]) == (engine_cpus * 10**9, 1152 * GIB)
        with pytest.raises(docker.errors.APIError, match=r"Range of CPUs is from 0\.01 to"):
            docker_client.containers.create(
                base_image, ["true"], name="dy-init-uncapped", nano_cpus=96 * 10**9
            )
    finally:
        for name in ("dy-init-limits", "dy-init-uncapped"):
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.containers.get(name).remove(force=True)
