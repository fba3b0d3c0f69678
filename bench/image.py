"""Image benchmark: what `dockyard build` costs for the scikit-learn example, against the floor.

    .venv/bin/python bench/image.py [--base-image IMAGE] [--network host] [--mlflow]

- **floor**: the same base image plus a venv with `pip install scikit-learn` (same pin) and nothing
  else; dockyard's image should be at most 30 MB larger;
- **cold build**: dockyard's image with no layer cache (so pip downloads everything again), beside
  the floor's cold build;
- **rebuild**: after a change to inference.py only, every dependency layer must come from the cache;
  target at most 10 s;
- **mlflow** (with --mlflow and bench/.peers/mlflow from bench/setup.sh): the Dockerfile of
  `mlflow models generate-dockerfile` (what `build-docker` builds), pointed at the same base image.

Images are tagged PREFIX/... (--tag-prefix) and removed at the end unless --keep. Results go to
bench/results/image-<time>.json. Exit status 1 when a target is missed or a build fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import docker.errors
import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

from dockyard.config import load_config
from dockyard.errors import DockyardError
from dockyard.image.builder import BuiltImage, ImageBuilder, Step
from dockyard.image.project import build_project

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
MLFLOW_PYTHON = BENCH / ".peers" / "mlflow" / "bin" / "python"
SIZE_TARGET_MB = 30.0
REBUILD_TARGET_S = 10.0
DEFAULT_BASE = "dockyard-test-base:bookworm"
INFERENCE = """\
import os

import joblib

VERSION = {version!r}


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return model.predict(data)
"""


@dataclass
class Recorder:
    """Keeps each step, to time them and to find the stage results to remove afterwards."""

    steps: list[Step] = field(default_factory=list)

    def started(self, step: Step) -> None:
        self.steps.append(step)

    def output(self, step: Step, line: str) -> None:
        pass

    def finished(self, step: Step) -> None:
        pass


@dataclass
class Measure:
    name: str
    size_mb: float
    seconds: float
    cached_steps: int
    steps: int
    slowest: list[str]


def _measure(name: str, image: BuiltImage) -> Measure:
    slowest = sorted(image.steps, key=lambda step: step.seconds, reverse=True)[:3]
    return Measure(
        name=name,
        size_mb=image.size / 1e6,
        seconds=image.seconds,
        cached_steps=sum(step.cached for step in image.steps),
        steps=len(image.steps),
        slowest=[f"{step.seconds:.1f} s  {step.instruction[:70]}" for step in slowest],
    )


def _write_project(root: Path, base_image: str, network: str) -> None:
    features = np.random.default_rng(7).normal(size=(200, 10))
    model = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    (root / "model").mkdir(parents=True)
    joblib.dump(model, root / "model" / "model.joblib")
    (root / "inference.py").write_text(INFERENCE.format(version="v1"))
    (root / "dockyard.toml").write_text(
        f"""\
[project]
name = "bench-sklearn"
handler = "inference.py"
requirements = ["scikit-learn=={sklearn.__version__}"]
base_image = "{base_image}"

[build]
network_mode = "{network}"
"""
    )


def _floor_context(folder: Path, base_image: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "RUN python3 -m venv /opt/venv \\\n"
        f"    && /opt/venv/bin/python -m pip install --no-cache-dir scikit-learn=={sklearn.__version__}\n"
    )
    return folder


def _mlflow_context(folder: Path, project: Path, base_image: str) -> Path:
    """MLflow's generated Dockerfile, FROM our base: a venv stands in for the slim image's own pip."""
    model = folder / "mlflow-model"
    save = (
        "import joblib, mlflow.sklearn, sys; "
        "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], pip_requirements=[sys.argv[3]])"
    )
    requirement = f"scikit-learn=={sklearn.__version__}"
    subprocess.run(
        [str(MLFLOW_PYTHON), "-c", save, str(project / "model" / "model.joblib"), str(model), requirement],
        check=True,
        capture_output=True,
    )
    out = folder / "mlflow-context"
    mlflow = [str(MLFLOW_PYTHON), "-m", "mlflow", "models", "generate-dockerfile"]
    subprocess.run(
        [*mlflow, "-m", str(model), "-d", str(out), "--env-manager", "local"], check=True, capture_output=True
    )
    dockerfile = out / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
    lines[start : start + 1] = [
        f"FROM {base_image}",
        "RUN python3 -m venv /opt/venv",
        'ENV PATH="/opt/venv/bin:$PATH"',
        # MLflow's own dependency install runs a pip that needs this machine's CA, as the host's pip does.
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    ]
    dockerfile.write_text("\n".join(lines) + "\n")
    return out


def _build_mlflow(
    args: argparse.Namespace, folder: Path, project: Path, tag: str, recorder: Recorder
) -> BuiltImage | None:
    """MLflow's image, or None (with the reason printed): it is a comparison, not a target."""
    if not MLFLOW_PYTHON.exists():
        print("mlflow: skipped, bench/.peers/mlflow is missing (run bash bench/setup.sh)", file=sys.stderr)
        return None
    print("building MLflow's generated Dockerfile on the same base (no cache) ...", flush=True)
    try:
        context = _mlflow_context(folder, project, args.base_image)
        with ImageBuilder() as builder:
            return builder.build(context, [tag], no_cache=True, network_mode=args.network, progress=recorder)
    except (DockyardError, subprocess.CalledProcessError) as exc:
        print(f"mlflow: not built: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return None


def _remove(client: docker.DockerClient, tags: list[str], steps: list[Step]) -> None:
    for tag in tags:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(tag)
    for step in reversed(steps):
        if step.image is None or step.instruction.startswith("FROM"):
            continue
        with contextlib.suppress(docker.errors.APIError):
            if not client.images.get(step.image).tags:
                client.images.remove(step.image)


@contextlib.contextmanager
def _cleanup(keep: bool, tags: list[str], recorder: Recorder) -> Iterator[None]:
    try:
        yield
    finally:
        if not keep:
            client = docker.from_env()
            _remove(client, tags, recorder.steps)
            client.close()


def _print_table(rows: list[Measure], floor: Measure) -> None:
    print(f"\n{'image':<22}{'size MB':>10}{'vs floor':>12}{'ratio':>8}{'build s':>10}{'cached':>10}")
    for row in rows:
        delta = row.size_mb - floor.size_mb
        print(
            f"{row.name:<22}{row.size_mb:>10.1f}{delta:>+12.1f}{row.size_mb / floor.size_mb:>8.2f}"
            f"{row.seconds:>10.1f}{f'{row.cached_steps}/{row.steps}':>10}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-image", default=DEFAULT_BASE, help=f"base of every image (default {DEFAULT_BASE})"
    )
    parser.add_argument("--network", default="host", help="network for RUN steps (default host)")
    parser.add_argument(
        "--mlflow", action="store_true", help="also build MLflow's Dockerfile on the same base"
    )
    parser.add_argument("--tag-prefix", default="dockyard-bench", help="repository prefix of the images")
    parser.add_argument("--keep", action="store_true", help="keep the images")
    args = parser.parse_args()

    prefix = args.tag_prefix
    tags = {
        "floor": f"{prefix}/floor:latest",
        "cold": f"{prefix}/sklearn:cold",
        "rebuild": f"{prefix}/sklearn:rebuilt",
        "mlflow": f"{prefix}/mlflow:latest",
    }
    recorder = Recorder()
    with (
        tempfile.TemporaryDirectory(prefix="dockyard-bench-image-") as tmp,
        _cleanup(args.keep, list(tags.values()), recorder),
    ):
        folder = Path(tmp)
        project = folder / "project"
        _write_project(project, args.base_image, args.network)
        print(f"scikit-learn {sklearn.__version__} on {args.base_image}, network {args.network}")
        try:
            with ImageBuilder() as builder:
                print("building the floor (venv + scikit-learn, no cache) ...", flush=True)
                floor = builder.build(
                    _floor_context(folder / "floor", args.base_image),
                    [tags["floor"]],
                    no_cache=True,
                    network_mode=args.network,
                    progress=recorder,
                )
            print("building dockyard's image cold (no cache) ...", flush=True)
            cold = build_project(
                load_config(project), tags=[tags["cold"]], no_cache=True, progress=recorder
            ).image
            (project / "inference.py").write_text(INFERENCE.format(version="v2"))
            print("rebuilding after an inference.py change ...", flush=True)
            rebuilt = build_project(load_config(project), tags=[tags["rebuild"]], progress=recorder).image
        except DockyardError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        mlflow = _build_mlflow(args, folder, project, tags["mlflow"], recorder) if args.mlflow else None

    measures = [
        _measure("floor", floor),
        _measure("dockyard (cold)", cold),
        _measure("dockyard (rebuild)", rebuilt),
    ]
    if mlflow is not None:
        measures.append(_measure("mlflow build-docker", mlflow))
    _print_table(measures, measures[0])
    over = measures[1].size_mb - measures[0].size_mb
    dependency_steps = [s for s in rebuilt.steps if not s.instruction.startswith("FROM")]
    code_step = next(i for i, s in enumerate(dependency_steps) if s.instruction.startswith("COPY program/"))
    all_cached = all(step.cached for step in dependency_steps[:code_step])
    size_ok = over <= SIZE_TARGET_MB
    rebuild_ok = rebuilt.seconds <= REBUILD_TARGET_S and all_cached
    print(
        f"\nsize over the floor: {over:+.1f} MB (target <= {SIZE_TARGET_MB:.0f} MB): "
        f"{'PASS' if size_ok else 'FAIL'}"
        f"\ncold build: dockyard {cold.seconds:.1f} s, floor {floor.seconds:.1f} s "
        f"(ratio {cold.seconds / floor.seconds:.2f})"
        f"\nrebuild after an inference.py change: {rebuilt.seconds:.1f} s, every dependency layer cached: "
        f"{all_cached} (target <= {REBUILD_TARGET_S:.0f} s): {'PASS' if rebuild_ok else 'FAIL'}"
    )
    if mlflow is not None:
        print(
            f"mlflow build-docker image: {mlflow.size / 1e6:.1f} MB, "
            f"{mlflow.size / cold.size:.2f}x dockyard's; cold build {mlflow.seconds:.1f} s"
        )
    print("\nslowest steps of the cold build:\n  " + "\n  ".join(measures[1].slowest))
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "base_image": args.base_image,
        "scikit_learn": sklearn.__version__,
        "measures": [asdict(measure) for measure in measures],
        "size_over_floor_mb": over,
        "rebuild_all_dependency_layers_cached": all_cached,
        "targets_met": size_ok and rebuild_ok,
        "measured_at": stamp,
    }
    path = RESULTS / f"image-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(BENCH.parent)}")
    return 0 if size_ok and rebuild_ok else 1


if __name__ == "__main__":
    sys.exit(main())
