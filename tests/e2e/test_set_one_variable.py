"""Set one variable, run unmodified code: the AWS CLI, boto3 and the SageMaker Python SDK against a real
emulator process, each in its own subprocess, on real containers, in the environment that
`eval "$(dockyard emulator env)"` makes (``AWS_ENDPOINT_URL`` and the emulator's credentials).

The code each test runs is the code users have (AWS's canonical registration snippet, the SDK's
``Model.deploy``); only names unique to the test are filled in. Both wait at least 30 s: botocore's
``endpoint_in_service`` waiter and the SDK's ``wait_for_endpoint`` poll every 30 s (the SDK sleeps
before its first look), and neither delay can be changed without changing the code.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import docker
import docker.errors
import pytest

from dockyard.archive import pack
from tests.aws_fixtures import AWS_VARIABLES, REGION
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import write_model

AWS_CLI = Path(sys.executable).parent / "aws"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
PREFIX = "dy-set-one-"

CANONICAL_SNIPPET = """
import boto3
import sagemaker

sm_client = sagemaker.Session().sagemaker_client
runtime = boto3.client("sagemaker-runtime")

sm_client.create_model(
    ModelName="{model}",
    ExecutionRoleArn="{role}",
    PrimaryContainer={{
        "Image": "{image}",
        "ModelDataUrl": "s3://{bucket}/model.tar.gz",
    }},
)
sm_client.create_endpoint_config(
    EndpointConfigName="{config}",
    ProductionVariants=[
        {{
            "VariantName": "AllTraffic",
            "ModelName": "{model}",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }}
    ],
)
sm_client.create_endpoint(EndpointName="{endpoint}", EndpointConfigName="{config}")
sm_client.get_waiter("endpoint_in_service").wait(EndpointName="{endpoint}")

response = runtime.invoke_endpoint(EndpointName="{endpoint}", ContentType="text/csv", Body="1,2,3,4\\n")
print(response["Body"].read().decode().strip())
"""

SDK_DEPLOY = """
import sagemaker
from sagemaker.deserializers import JSONDeserializer
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer

session = sagemaker.Session()
model_data = session.upload_data("{archive}", key_prefix="{prefix}")
model = Model(image_uri="{image}", model_data=model_data, role="{role}", predictor_cls=Predictor)
predictor = model.deploy(
    initial_instance_count=1,
    instance_type="ml.m5.large",
    endpoint_name="{endpoint}",
    serializer=CSVSerializer(),
    deserializer=JSONDeserializer(),
)
prediction = predictor.predict([1, 2, 3, 4])
predictor.delete_endpoint()
print()  # the SDK's deploy progress (dashes) ends without a newline
print(model_data)
print(prediction)
"""


@dataclass(frozen=True)
class LocalAws:
    url: str
    exports: dict[str, str]  # what `eval "$(dockyard emulator env)"` sets

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.exports["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="module")
def local_aws(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[LocalAws]:
    """An emulator process of its own, reading model data from its own S3, and the lines
    `dockyard emulator env` prints for it (its URL and the credentials it checks signatures against)."""
    state_dir = tmp_path_factory.mktemp("set-one-variable") / "state"
    emulator = EmulatorProcess(state_dir, "")  # no other S3
    emulator.start()
    printed = subprocess.run(
        [sys.executable, "-m", "dockyard.cli", "emulator", "env", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in printed.splitlines()
        if line.startswith("export ")
    )
    assert exports["AWS_ENDPOINT_URL"] == emulator.url
    yield LocalAws(emulator.url, exports)
    emulator.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


@pytest.fixture(scope="module")
def image_in_ecr(
    local_aws: LocalAws,
    docker_client: docker.DockerClient,
    fixture_image: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The dot-product fixture image, put under its ECR URI by `dockyard push --ecr` (local target)."""
    tag = fixture_image("dockyard")
    repository = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    env = _environment(local_aws, tmp_path_factory.mktemp("push"))
    pushed = _run(
        [sys.executable, "-m", "dockyard.cli", "push", tag, "--ecr", "--repository", repository], env
    )
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag.rsplit(':', 1)[1]}"
    assert pushed.stdout.strip() == f"reference: {uri}"
    assert f"the local emulator's ECR repository {uri.rsplit(':', 1)[0]} (created" in pushed.stderr
    assert docker_client.images.get(uri).id == docker_client.images.get(tag).id
    yield uri
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.images.remove(uri, noprune=True)


def _environment(local_aws: LocalAws, home: Path, **extra: str) -> dict[str, str]:
    """The process environment of a user who ran `eval "$(dockyard emulator env)"` (and has no AWS
    configuration of their own)."""
    env = {key: value for key, value in os.environ.items() if key not in AWS_VARIABLES}
    env.pop("DOCKYARD_EMULATOR_URL", None)
    env.pop("DOCKYARD_EMULATOR_SECRET_ACCESS_KEY", None)
    return {
        **env,
        **local_aws.exports,
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        **extra,
    }


def _run(command: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    assert result.returncode == 0, f"{command[:4]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def _python(code: str, env: dict[str, str], workdir: Path) -> str:
    script = workdir / "user_code.py"
    script.write_text(code)
    return _run([sys.executable, str(script)], env).stdout


def _delete_endpoint(local_aws: LocalAws, name: str) -> None:
    sagemaker = local_aws.client("sagemaker")
    with contextlib.suppress(sagemaker.exceptions.ClientError):
        sagemaker.delete_endpoint(EndpointName=name)


@pytest.mark.docker
@pytest.mark.slow
def test_the_canonical_snippet_with_aws_cli_uploads(
    local_aws: LocalAws, image_in_ecr: str, tmp_path: Path
) -> None:
    env = _environment(local_aws, tmp_path)
    name = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    archive = pack(write_model(tmp_path / "model"), tmp_path / "model.tar.gz")
    _run([str(AWS_CLI), "s3", "mb", f"s3://{name}"], env)
    _run([str(AWS_CLI), "s3", "cp", str(archive.path), f"s3://{name}/model.tar.gz"], env)

    code = CANONICAL_SNIPPET.format(
        model=name, config=name, endpoint=name, role=ROLE, image=image_in_ecr, bucket=name
    )
    try:
        # The SDK prints its configuration search on stdout first.
        assert _python(code, env, tmp_path).strip().splitlines()[-1] == "30.0"

        repositories = json.loads(_run([str(AWS_CLI), "ecr", "describe-repositories"], env).stdout)
        uris = [repository["repositoryUri"] for repository in repositories["repositories"]]
        assert image_in_ecr.rsplit(":", 1)[0] in uris

        # AWS CLI v1 has no `logs tail` (a v2 command); FilterLogEvents is the call it makes.
        group = f"/aws/sagemaker/Endpoints/{name}"
        found = json.loads(
            _run([str(AWS_CLI), "logs", "filter-log-events", "--log-group-name", group], env).stdout
        )
        assert found["events"], "the endpoint's container logged nothing"
        assert {event["logStreamName"].split("/")[0] for event in found["events"]} == {"AllTraffic"}
        # dockyard logs makes the same call, found through the same variable.
        lines = _run([sys.executable, "-m", "dockyard.cli", "logs", name], env).stdout.splitlines()
        assert lines
        assert all(line.startswith("AllTraffic/") for line in lines)
    finally:
        _delete_endpoint(local_aws, name)


@pytest.mark.docker
@pytest.mark.slow
def test_the_sdk_uploads_deploys_predicts_and_deletes(
    local_aws: LocalAws, image_in_ecr: str, tmp_path: Path
) -> None:
    # The SDK's own configuration file names the default bucket: Session() then asks STS nothing (its
    # STS client has a fixed regional endpoint that AWS_ENDPOINT_URL cannot redirect).
    bucket = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\n"
        f"SageMaker:\n  PythonSDK:\n    Modules:\n      Session:\n        DefaultS3Bucket: {bucket}\n"
    )
    env = _environment(local_aws, tmp_path, SAGEMAKER_USER_CONFIG_OVERRIDE=str(config))
    archive = pack(write_model(tmp_path / "model"), tmp_path / "model.tar.gz")
    endpoint = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    code = SDK_DEPLOY.format(
        archive=archive.path, prefix="models", image=image_in_ecr, role=ROLE, endpoint=endpoint
    )
    try:
        model_data, prediction = _python(code, env, tmp_path).strip().splitlines()[-2:]
    finally:
        _delete_endpoint(local_aws, endpoint)
    assert model_data == f"s3://{bucket}/models/model.tar.gz"
    assert prediction == "30.0"
    sagemaker = local_aws.client("sagemaker")
    statuses = [
        e["EndpointStatus"] for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == endpoint
    ]
    assert statuses in ([], ["Deleting"])  # predictor.delete_endpoint() was called


@pytest.mark.docker
def test_dockyard_sagemaker_session_is_local_through_sts(local_aws: LocalAws, tmp_path: Path) -> None:
    code = (
        "import dockyard\n"
        "session = dockyard.sagemaker_session()\n"
        "print(session.account_id())\n"
        "print(session.default_bucket())\n"
        f"print(session.upload_data({str(tmp_path / 'data.csv')!r}, key_prefix='data'))\n"
    )
    (tmp_path / "data.csv").write_text("1,2,3,4\n")
    printed = _python(code, _environment(local_aws, tmp_path), tmp_path).strip().splitlines()[-3:]
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    assert printed == [ACCOUNT, bucket, f"s3://{bucket}/data/data.csv"]
