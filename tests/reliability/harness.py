"""What the fault tests and ``bench/faults.py`` share: an emulator process that can be SIGKILLed and
restarted on its state, endpoints deployed with plain boto3, and a bounded load that counts every request.

No pytest here: the benchmark imports it too. Every container it starts carries the emulator's labels
(its state directory) and is removed by :meth:`Emulator.remove_containers`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.archive import pack

REGION = "us-east-1"
KEY = "testing"  # the emulator's clients in the test suite sign with this key and secret
INSTANCE_TYPE = "ml.c5.large"
ROLE = "arn:aws:iam::123456789012:role/dockyard-reliability"
SAMPLE = b"1,2,3,4\n"
PREDICTION = b"30.0\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """``python -m dockyard.emulator`` on a private port and state directory."""

    def __init__(self, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / f"{state_dir.name}-emulator.log"
        self.env = {
            **os.environ,
            "DOCKYARD_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # no S3: models are file:// URLs
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> float:
        """Start it and wait until it says it is ready; the seconds that took."""
        from dockyard.emulator.security.credentials import save_credentials

        self.state_dir.mkdir(parents=True, exist_ok=True)
        save_credentials(self.state_dir, KEY)  # the secret the emulator checks signatures against
        command = [sys.executable, "-m", "dockyard.emulator", "--port", str(self.port)]
        command += ["--state-dir", str(self.state_dir)]
        began = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {self.process.returncode}:\n{self.tail()}")
            if self.ready():
                return time.monotonic() - began
            time.sleep(0.1)
        raise RuntimeError(f"the emulator was not ready within {timeout} s:\n{self.tail()}")

    def ready(self) -> bool:
        try:
            return bool(httpx.get(f"{self.url}/_dockyard/status", timeout=2).json().get("ready"))
        except (httpx.HTTPError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the containers stay, the database is mid-whatever)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove_containers(self) -> None:
        from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

        remove_fleet_containers(self.state_dir)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def client(self, service: str, **config: Any) -> Any:
        options = {"retries": {"max_attempts": 1}, "connect_timeout": 5, "read_timeout": 30, **config}
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=KEY,
            config=Config(**options),
        )


def model_archive(directory: Path) -> Path:
    """A model.tar.gz for the ``dockyard`` fixture image (a dot product with weights 1, 2, 3, 4)."""
    model = directory / "model"
    model.mkdir(parents=True, exist_ok=True)
    (model / "weights.json").write_text('{"weights": [1, 2, 3, 4]}')
    archive = directory / "model.tar.gz"
    pack(model, archive)
    return archive


def create_model(sagemaker: Any, name: str, image: str, archive: Path) -> None:
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image, "ModelDataUrl": archive.as_uri()},
        ExecutionRoleArn=ROLE,
    )


def create_config(sagemaker: Any, name: str, variants: dict[str, tuple[str, int, float]]) -> None:
    """``variants``: variant name -> (model, instance count, weight)."""
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": count,
                "InstanceType": INSTANCE_TYPE,
                "InitialVariantWeight": weight,
            }
            for variant, (model, count, weight) in variants.items()
        ],
    )


def wait_status(sagemaker: Any, endpoint: str, timeout: float = 180) -> dict[str, Any]:
    """DescribeEndpoint once the endpoint is no longer Creating/Updating (polled every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] not in ("Creating", "Updating", "SystemUpdating"):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{endpoint} still {described['EndpointStatus']} after {timeout} s")
        time.sleep(0.2)


def deploy(sagemaker: Any, endpoint: str, image: str, archive: Path, count: int = 1) -> None:
    create_model(sagemaker, f"{endpoint}-model", image, archive)
    create_config(sagemaker, f"{endpoint}-config", {"AllTraffic": (f"{endpoint}-model", count, 1.0)})
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
    described = wait_status(sagemaker, endpoint)
    if described["EndpointStatus"] != "InService":
        raise AssertionError(f"{endpoint} is {described['EndpointStatus']}: {described.get('FailureReason')}")


def healthy_instances(sagemaker: Any, endpoint: str) -> int:
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    return sum(int(v.get("CurrentInstanceCount") or 0) for v in described.get("ProductionVariants", []))


@dataclass
class Outcome:
    started: float
    ended: float
    error: str | None  # None: the prediction came back right


@dataclass
class Load:
    """``concurrency`` threads invoking ``endpoint`` back to back until stopped, each request recorded."""

    emulator: Emulator
    endpoint: str
    concurrency: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for _ in range(self.concurrency):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        runtime = self.emulator.client("sagemaker-runtime", connect_timeout=2, read_timeout=30)
        while not self._stop.is_set():
            began = time.monotonic()
            error: str | None = None
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=self.endpoint, Body=SAMPLE, ContentType="text/csv"
                )
                body = answer["Body"].read()
                if body != PREDICTION:
                    error = f"wrong answer {body!r}"
            except ClientError as exc:
                error = f"{exc.response['Error'].get('Code')}: {exc.response['Error'].get('Message')}"
            except BotoCoreError as exc:
                error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)  # the emulator is down: do not spin
            with self._lock:
                self.outcomes.append(Outcome(began, time.monotonic(), error))

    def failures(self, since: float = 0.0) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.error is not None and o.ended >= since]

    def successes(self, since: float = 0.0) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.error is None and o.started >= since]

    def first_success_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` until a request sent after it succeeded."""
        later = [o.ended for o in self.successes(since=moment)]
        return min(later) - moment if later else None


@contextmanager
def load(emulator: Emulator, endpoint: str, concurrency: int = 4) -> Iterator[Load]:
    running = Load(emulator, endpoint, concurrency).start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "16m") mounted at ``path`` for the block (root, or sudo without a
    password); unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    mounted = subprocess.run(
        [*sudo, "mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs at {path} (needs root or sudo): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run([*sudo, "umount", "--lazy", str(path)], check=False)


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.1) -> float:
    """Seconds until ``predicate()`` held; AssertionError after ``timeout``."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(poll)
    return time.monotonic() - began
