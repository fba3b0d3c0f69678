"""`dockyard check` on an image labelled for multi-model endpoints: its /models API is checked."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from dockyard.image.check import CheckOptions, Sample, check_image
from tests.fixture_images import PREFIX, SAMPLE, leftovers

MULTI_MODEL_CHECKS = [
    "mm-load",
    "mm-conflict",
    "mm-list",
    "mm-describe",
    "mm-invoke",
    "mm-unload",
    "mm-missing",
]


@pytest.fixture
def multi_model_image(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str]
) -> Iterator[str]:
    """The dockyard fixture image, serving the multi-model API and labelled for it."""
    tag = f"dockyard-modes-mme:{secrets.token_hex(4)}"  # a name no other test cleans up
    dockerfile = (
        f"FROM {fixture_image('dockyard')}\n"
        "ENV SAGEMAKER_MULTI_MODEL=true\n"
        'LABEL com.amazonaws.sagemaker.capabilities.multi-models="true"\n'
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
    yield tag
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.images.remove(tag, force=True)


@pytest.mark.docker
def test_labelled_image_has_its_multi_model_api_checked(
    docker_client: docker.DockerClient, multi_model_image: str, model_dir: Path
) -> None:
    prefix = f"{PREFIX}t-{secrets.token_hex(2)}"
    report = check_image(
        multi_model_image,
        CheckOptions(
            model=model_dir, sample=Sample(SAMPLE, "text/csv"), startup_timeout=60, name_prefix=prefix
        ),
    )
    found = {result.name: (result.status.value, result.message) for result in report.results}
    assert {name: found[name][0] for name in MULTI_MODEL_CHECKS} == dict.fromkeys(MULTI_MODEL_CHECKS, "pass")
    # /invocations is never sent to a multi-model container, so its checks are not run at all.
    assert "invocations" not in found
    assert "body-6mb" not in found
    assert report.passed
    assert found["mm-load"][1].startswith("200 loading /opt/ml/model as dockyard-check-")
    assert found["mm-conflict"][1].startswith("a second load answered 409")
    assert found["mm-invoke"][1] == "the sample answered 200: 30.0"
    assert found["mm-missing"][1].startswith("invoking a name never loaded answered 404")
    assert leftovers(docker_client, prefix) == []


@pytest.mark.docker
def test_single_model_image_under_the_label_fails_the_multi_model_checks(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], model_dir: Path
) -> None:
    tag = f"dockyard-modes-mme-bad:{secrets.token_hex(4)}"
    dockerfile = (
        f'FROM {fixture_image("dockyard")}\nLABEL com.amazonaws.sagemaker.capabilities.multi-models="true"\n'
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
    try:
        report = check_image(tag, CheckOptions(model=model_dir, startup_timeout=60, name_prefix=f"{PREFIX}t"))
    finally:
        docker_client.images.remove(tag, force=True)
    found = {result.name: (result.status.value, result.message) for result in report.results}
    assert not report.passed
    assert found["mm-load"][0] == "fail"
    assert "answered 404" in found["mm-load"][1]
    assert "multi-model serving is off" in found["mm-load"][1]
    assert found["mm-invoke"] == ("skip", "not run: the model did not load")
