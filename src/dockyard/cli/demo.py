"""``dockyard demo``: model → project → image → local endpoint → prediction, on this machine.

It trains a small scikit-learn model, writes a dockyard project around it, builds the image, starts the
local emulator when none runs, deploys the endpoint through the same boto3 calls as ``dockyard deploy``,
invokes it, and prints the answer, the endpoint's description and the boto3 code that does the same. The
endpoint keeps running afterwards (``dockyard endpoints delete dockyard-demo`` removes it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dockyard.errors import DockyardError

ENDPOINT = "dockyard-demo"
SAMPLE = {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}


class DemoError(DockyardError):
    """The demo could not run to its end; the message says where it stopped."""


@dataclass(frozen=True)
class DemoResult:
    endpoint_name: str
    emulator_url: str
    prediction: object
    status: str


def train_example_model(model_dir: Path) -> tuple[str, str]:
    """Fit a LogisticRegression on the iris data bundled with scikit-learn and save it as model.joblib;
    return the scikit-learn and joblib versions (the image must load the model with the same ones)."""
    try:
        import joblib
        import sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise DemoError(
            f"the demo needs scikit-learn ({exc.name} is missing): pip install 'dockyard[demo]'"
        ) from None
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return sklearn.__version__, joblib.__version__


def write_project(directory: Path, base_image: str | None, network_mode: str | None) -> Path:
    """A sklearn-flavor project (what `dockyard init --flavor sklearn` writes), with the trained model."""
    from dockyard.scaffold import init_project

    init_project(directory, name=ENDPOINT, flavor="sklearn", force=True)
    sklearn_version, joblib_version = train_example_model(directory / "model")
    pins = f"scikit-learn=={sklearn_version}\njoblib=={joblib_version}\n"
    (directory / "requirements.txt").write_text(pins)
    (directory / "sample.json").write_text(json.dumps(SAMPLE) + "\n")
    config = directory / "dockyard.toml"
    text = config.read_text()
    if base_image:
        text = re.sub(r'(?m)^base_image = ".*"$', f"base_image = {json.dumps(base_image)}", text)
    if network_mode:
        text += f"\n[build]\nnetwork_mode = {json.dumps(network_mode)}\n"
    config.write_text(text)
    return directory


def run_demo(
    console: Console,
    *,
    workdir: Path | None = None,
    base_image: str | None = None,
    network_mode: str | None = None,
) -> DemoResult:
    from dockyard.emulator.process import ensure_running
    from dockyard.emulator.settings import default_state_dir
    from dockyard.image.builder import RichProgress
    from dockyard.lifecycle.deploy import EndpointState, deploy
    from dockyard.lifecycle.invoke import invoke
    from dockyard.lifecycle.resources import describe_resource
    from dockyard.lifecycle.target import emulator_credentials

    project = workdir or default_state_dir() / "demo" / ENDPOINT
    console.print(f"[bold]1.[/] Training a LogisticRegression on iris; project in {project}")
    write_project(project, base_image, network_mode)

    console.print("[bold]2.[/] Starting the local SageMaker (dockyard's emulator), unless one runs")
    url = ensure_running()
    console.print(f"    emulator at {url}")

    console.print("[bold]3.[/] Building the image, registering the model, creating the endpoint")
    last_line: list[str] = []

    def on_status(state: EndpointState) -> None:
        line = state.line()
        if not last_line or last_line[-1] != line:
            last_line.append(line)
            console.print(f"    {escape(line)}", highlight=False)

    def warn(message: str) -> None:
        console.print(f"    [yellow]warning:[/] {escape(message)}", highlight=False)

    with RichProgress(console) as progress:
        deployment = deploy(
            project,
            endpoint_name=ENDPOINT,
            target="local",
            emulator_url=url,
            smoke_test=False,
            on_status=on_status,
            build_progress=progress,
            warn=warn,
        )
    console.print(f"    endpoint {deployment.endpoint_name}: {deployment.action}, {deployment.status}")

    body = json.dumps(SAMPLE).encode()
    console.print(f"[bold]4.[/] InvokeEndpoint {ENDPOINT} with {escape(body.decode())}", soft_wrap=True)
    answer = invoke(ENDPOINT, body, content_type="application/json", target="local", emulator_url=url)
    text = answer.body.decode("utf-8", "replace")
    try:
        prediction: object = json.loads(text)
    except ValueError:
        prediction = text
    console.print(f"[bold green]Prediction:[/] {escape(text.strip())}  (variant {answer.invoked_variant})")

    described = describe_resource("endpoints", ENDPOINT, target="local", emulator_url=url).description
    console.print("[bold]5.[/] The endpoint, as DescribeEndpoint tells it:")
    for variant in described.get("ProductionVariants", []):
        images = ", ".join(image.get("SpecifiedImage", "") for image in variant.get("DeployedImages", []))
        console.print(
            f"    {described['EndpointName']} {described['EndpointStatus']} · {described['EndpointArn']}\n"
            f"    variant {variant['VariantName']}: {variant.get('CurrentInstanceCount')} instance(s), "
            f"weight {variant.get('CurrentWeight')}, image {images}",
            highlight=False,
            soft_wrap=True,
        )
    console.print("[bold]6.[/] The same call from your own code (any boto3; for AWS drop endpoint_url):")
    credentials = emulator_credentials(url)
    console.print(
        boto3_snippet(url, body.decode(), credentials.access_key_id, credentials.secret_access_key),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"Done. The endpoint keeps running; remove it with `dockyard endpoints delete {ENDPOINT}` and stop "
        "the emulator with `dockyard emulator down --stop-endpoints`.",
        highlight=False,
        soft_wrap=True,
    )
    return DemoResult(ENDPOINT, url, prediction, str(described["EndpointStatus"]))


def boto3_snippet(url: str, body: str, key_id: str, secret: str) -> str:
    # The emulator's own credentials (from its state directory; `dockyard emulator env` prints them).
    return (
        "import boto3\n"
        f'runtime = boto3.client("sagemaker-runtime", endpoint_url="{url}", region_name="us-east-1",\n'
        f'                       aws_access_key_id="{key_id}", aws_secret_access_key="{secret}")\n'
        f'answer = runtime.invoke_endpoint(EndpointName="{ENDPOINT}", ContentType="application/json",\n'
        f"                                 Body={body!r})\n"
        'print(answer["Body"].read().decode())'
    )
