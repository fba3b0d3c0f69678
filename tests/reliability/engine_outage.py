"""The Docker engine goes away and comes back, under a bounded load of real boto3 invocations.

The emulator talks to the engine through an :class:`EngineProxy` (its DOCKER_HOST), which the scenario
stops and starts; the real engine keeps running for everyone else. What the emulator should do:

1. engine gone, the endpoint's container still running: the container's published port does not go
   through the engine, so the endpoint keeps serving and stays InService (SageMaker's data plane does
   not depend on its control plane);
2. the container then stopped (through the real engine, behind the emulator's back): no instance can take
   requests and none can be started, so DescribeEndpoint says OutOfService with the cause and invocations
   fail with ServiceUnavailable, promptly;
3. engine back: the fleet starts a replacement, and the endpoint is InService and serving again by itself.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import docker
from botocore.exceptions import ClientError

from tests.reliability.engine_proxy import EngineProxy
from tests.reliability.harness import (
    SAMPLE,
    Emulator,
    Outcome,
    deploy,
    healthy_instances,
    load,
    model_archive,
    wait_until,
)
from tests.reliability.scenarios import WARM_UP, endpoint_containers

Figures = dict[str, Any]
ENGINE_AWAY = 4.0  # seconds the engine is gone while the container still serves (several monitor rounds)


def engine_outage(emulator: Emulator, proxy: EngineProxy, image: str, concurrency: int = 2) -> Figures:
    client = docker.from_env()  # the real engine, not the emulator's proxy
    sagemaker = emulator.client("sagemaker")
    endpoint = "dy-rel-engine"
    deploy(sagemaker, endpoint, image, model_archive(emulator.state_dir / "inputs" / "engine"), count=1)
    (container,) = endpoint_containers(client, emulator, endpoint)

    def status() -> str:
        return str(sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"])

    with load(emulator, endpoint, concurrency) as running:
        time.sleep(WARM_UP)
        engine_gone = time.monotonic()
        proxy.stop()
        statuses_while_serving = set()
        while time.monotonic() - engine_gone < ENGINE_AWAY:
            statuses_while_serving.add(status())
            time.sleep(0.2)
        container_stopped = time.monotonic()
        client.containers.get(container).stop(timeout=5)
        stop_s = time.monotonic() - container_stopped
        wait_until(lambda: status() == "OutOfService", timeout=60, poll=0.1)
        out_of_service = time.monotonic() - container_stopped
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        time.sleep(3.0)  # invocations while OutOfService
        engine_back = time.monotonic()
        proxy.start()
        wait_until(lambda: status() == "InService", timeout=120, poll=0.1)
        back_in_service = time.monotonic() - engine_back
        wait_until(lambda: running.first_success_after(engine_back) is not None, 60)
        invocations_back = running.first_success_after(engine_back) or 0.0
        time.sleep(1.0)
    outcomes = list(running.outcomes)
    served_while_gone = [o for o in outcomes if engine_gone <= o.started and o.ended < container_stopped]
    failed = running.failures(since=container_stopped)
    stopped = container_stopped + stop_s
    broken = [o for o in failed if (o.error or "").startswith("ModelError")]
    reported_at = container_stopped + out_of_service
    refused_once_out = [o for o in outcomes if reported_at <= o.started and o.ended < engine_back]
    return {
        "requests": len(running.outcomes),
        "served_while_engine_gone": len(served_while_gone),
        "failed_while_engine_gone": len(running.failures()) - len(running.failures(since=container_stopped)),
        "statuses_while_engine_gone": sorted(statuses_while_serving),
        "docker_stop_s": round(stop_s, 2),
        "out_of_service_s": round(out_of_service, 2),
        "failure_reason": described.get("FailureReason", ""),
        "instances_while_out": sum(int(v["CurrentInstanceCount"]) for v in described["ProductionVariants"]),
        "failed_after_container_stop": len(failed),
        "errors": dict(Counter((o.error or "").split(":")[0] for o in failed)),
        # Requests sent while `docker stop` ran: the stopping container closed their fresh connections
        # unanswered, which the runtime reports as the model's failure (ModelError), as for any instance.
        "broken_while_stopping": sum(1 for o in broken if o.started < stopped),
        "broken_after_stop": sum(1 for o in broken if o.started >= stopped),
        "slowest_failure_s": _slowest(failed),
        "refused_while_out": len(refused_once_out),
        "served_while_out": sum(1 for o in refused_once_out if o.error is None),
        "slowest_refusal_while_out_s": _slowest(refused_once_out),
        "in_service_after_engine_back_s": round(back_in_service, 2),
        "invocations_back_s": round(invocations_back, 2),
        "healthy_after": healthy_instances(sagemaker, endpoint),
        "replaced": endpoint_containers(client, emulator, endpoint) != [container],
        "engine_connections_relayed": proxy.connections,
    }


def _slowest(outcomes: list[Outcome]) -> float:
    return round(max((o.ended - o.started for o in outcomes), default=0.0), 3)


def restart_without_engine(emulator: Emulator, proxy: EngineProxy, image: str) -> Figures:
    """The emulator is restarted while the engine is away: it cannot adopt the endpoint's (running)
    container, so the endpoint is OutOfService, not Failed; once the engine answers, the same container is
    adopted and the endpoint is InService again."""
    client = docker.from_env()
    sagemaker = emulator.client("sagemaker")
    endpoint = "dy-rel-engine-restart"
    deploy(sagemaker, endpoint, image, model_archive(emulator.state_dir / "inputs" / "restart"), count=1)
    before = endpoint_containers(client, emulator, endpoint)
    proxy.stop()
    emulator.stop()
    restart = emulator.start()
    sagemaker = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime")

    def status() -> str:
        return str(sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"])

    out_of_service = wait_until(lambda: status() == "OutOfService", timeout=60, poll=0.1)
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    try:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=SAMPLE, ContentType="text/csv")
        refusal = "served"
    except ClientError as exc:
        refusal = f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    engine_back = time.monotonic()
    proxy.start()
    wait_until(lambda: status() == "InService", timeout=120, poll=0.1)
    back_in_service = time.monotonic() - engine_back
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=SAMPLE, ContentType="text/csv")
    return {
        "restart_s": round(restart, 2),
        "out_of_service_s": round(out_of_service, 2),
        "failure_reason": described.get("FailureReason", ""),
        "refusal": refusal,
        "in_service_after_engine_back_s": round(back_in_service, 2),
        "answer": answer["Body"].read().decode(),
        "adopted": endpoint_containers(client, emulator, endpoint) == before,
    }
