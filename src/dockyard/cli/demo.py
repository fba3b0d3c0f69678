"""``dockyard demo``: the shortest path from a model to a prediction, on this machine.

Today: train a small scikit-learn model, serve it with dockyard's inference server, send one
request and print the answer. It grows into model → image → local endpoint as the pipeline does.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

from dockyard.errors import DockyardError

READY_TIMEOUT = 60.0


class DemoError(DockyardError):
    """The demo could not run to its end; the message says where it stopped."""


def train_example_model(model_dir: Path) -> list[list[float]]:
    """Fit a LogisticRegression on synthetic data, save it as model.joblib; return two sample rows."""
    try:
        import joblib
        import numpy as np
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise DemoError(
            f"the demo needs scikit-learn ({exc.name} is missing): pip install 'dockyard[flavors]'"
        ) from None
    rng = np.random.default_rng(7)
    features = rng.normal(size=(400, 4))
    labels = (features @ np.array([1.5, -2.0, 0.5, 1.0]) > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return [[round(float(value), 3) for value in row] for row in features[:2]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DemoError(f"the server exited with status {server.returncode}; its log: {log_path}")
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise DemoError(
        f"the server did not answer /ping with 200 within {READY_TIMEOUT:g} s; its log: {log_path}"
    )


def run_demo(console: Console) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-demo-"))
    model_dir = workdir / "model"
    console.print(f"[bold]1.[/] Training a LogisticRegression → {model_dir / 'model.joblib'}")
    rows = train_example_model(model_dir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "serve.log"
    console.print(
        f"[bold]2.[/] Starting the inference server on {url} (flavor detected from the model directory)"
    )
    command = [sys.executable, "-m", "dockyard.serving.cli", "--model-dir", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--metrics-port", "0"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, server, log_path)
        body = {"instances": rows}
        console.print(f"[bold]3.[/] POST /invocations {body}")
        response = httpx.post(f"{url}/invocations", json=body, timeout=30)
        if response.status_code != 200:
            raise DemoError(f"the server answered {response.status_code}: {response.text}")
        prediction: dict[str, object] = response.json()
        console.print(f"[bold green]Prediction:[/] {prediction}")
        return prediction
    finally:
        server.terminate()
        try:
            server.wait(timeout=35)
        except subprocess.TimeoutExpired:
            server.kill()
