"""The SageMaker Python SDK's local mode deploying one image, timed (run in bench/.peers/sagemaker-sdk).

    python sagemaker_local_deploy.py --image TAG --model-data DIR/model.tar.gz --port P --runs N
        --body JSON --name-prefix PREFIX --container-root DIR --out RESULT.json

Per run: ``Model(image_uri, model_data="file://...").deploy(instance_type="local")``, timed to two
moments: InService (the local CreateEndpoint returns: the SDK's docker-compose up, then its /ping loop,
every 5 s) and deploy()'s own return (after that the SDK's wait_for_endpoint sleeps its 30 s poll before
its first DescribeEndpoint); then one prediction; then ``delete_endpoint`` and ``delete_model``. Two
things are changed, neither of them timed: the container's port is published on 127.0.0.1 (the SDK
publishes it on every address) and the container's name starts with --name-prefix (the SDK makes a
random one), so the runner can find what compose leaves behind. Everything else is the SDK as users
run it. No AWS call is needed: the session is local and the model data is a file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import boto3
import sagemaker
import sagemaker.local.image as local_image
from sagemaker.deserializers import JSONDeserializer
from sagemaker.local import LocalSession
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.serializers import JSONSerializer

ROLE = "arn:aws:iam::123456789012:role/dockyard-bench"
# The SDK's own defaults, less its telemetry (a request to AWS after each deploy).
SDK_DEFAULTS = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def publish_on_loopback(port: int, name_prefix: str) -> None:
    original = local_image._SageMakerContainer._create_docker_host

    def create_docker_host(self: Any, host: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config: dict[str, Any] = original(self, host, *args, **kwargs)
        config["container_name"] = f"{name_prefix}{host}"
        if "ports" in config:
            config["ports"] = [f"127.0.0.1:{port}:8080"]
        return config

    local_image._SageMakerContainer._create_docker_host = create_docker_host


def one_run(session: LocalSession, args: argparse.Namespace, index: int) -> dict[str, Any]:
    name = f"{args.name_prefix}{index}"
    model = Model(
        image_uri=args.image,
        model_data=f"file://{args.model_data}",
        role=ROLE,
        predictor_cls=Predictor,
        name=name,
        sagemaker_session=session,
    )
    result: dict[str, Any] = {"run": index}
    predictor = None
    create_endpoint = session.sagemaker_client.create_endpoint

    def timed_create_endpoint(*args: Any, **kwargs: Any) -> Any:
        answer = create_endpoint(*args, **kwargs)  # returns once the endpoint is InService
        result["in_service_s"] = time.perf_counter() - start
        return answer

    session.sagemaker_client.create_endpoint = timed_create_endpoint
    start = time.perf_counter()
    try:
        predictor = model.deploy(
            initial_instance_count=1,
            instance_type="local",
            endpoint_name=name,
            serializer=JSONSerializer(),
            deserializer=JSONDeserializer(),
        )
        result["deploy_returned_s"] = time.perf_counter() - start
        result["prediction"] = predictor.predict(json.loads(args.body))
        result["first_prediction_s"] = time.perf_counter() - start
    except Exception as exc:  # whatever the SDK raises: the runner reports it
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        session.sagemaker_client.create_endpoint = create_endpoint
        started = time.perf_counter()
        if predictor is not None:
            predictor.delete_endpoint()
        elif name in getattr(session.sagemaker_client, "_endpoints", {}):
            session.sagemaker_client.delete_endpoint(name)
        model.delete_model()
        result["teardown_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--model-data", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--body", required=True, help="the request, as JSON")
    parser.add_argument("--name-prefix", required=True)
    parser.add_argument("--container-root", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    publish_on_loopback(args.port, args.name_prefix)
    boto_session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    session = LocalSession(boto_session=boto_session, sagemaker_config=SDK_DEFAULTS)
    session.config = {
        "local": {"local_code": True, "serving_port": args.port, "container_root": str(args.container_root)}
    }
    runs = []
    for index in range(1, args.runs + 1):
        runs.append(one_run(session, args, index))
        if "error" in runs[-1]:
            break
    args.out.write_text(json.dumps({"sagemaker": sagemaker.__version__, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
