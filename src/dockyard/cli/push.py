"""``dockyard push``: push an image to a registry, or to Amazon ECR, with per-layer progress."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.filesize import decimal

from dockyard.cli.common import console, err_console, reports_errors
from dockyard.cli.target import with_target
from dockyard.errors import UsageError
from dockyard.lifecycle.target import TargetOptions

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from dockyard.registry.push import LayerProgress


def register(app: typer.Typer) -> None:
    app.command("push")(push)


@reports_errors
@with_target()
def push(
    image: str = typer.Argument(..., metavar="IMAGE", help="The local image: name[:tag] or id."),
    to: str | None = typer.Option(
        None, "--to", metavar="REGISTRY/REPO[:TAG]", help="Where to push (the tag defaults to the image's)."
    ),
    ecr: bool = typer.Option(
        False,
        "--ecr",
        help="Put it under its ECR URI, creating the repository when missing: aws, pushed to ECR; local, "
        "tagged in this engine for the emulator (and pushed to $DOCKYARD_ECR_REGISTRY when set).",
    ),
    repository: str | None = typer.Option(
        None,
        "--repository",
        metavar="NAME[:TAG]",
        help="ECR repository for --ecr (default: the image's name).",
    ),
    *,
    target: TargetOptions,
) -> None:
    """Push IMAGE to a registry and print its digest and the reference to pull it by."""
    if ecr and to is not None:
        raise UsageError("give either --to REGISTRY/REPO[:TAG] or --ecr, not both")
    if not ecr and (target != TargetOptions() or repository is not None):
        raise UsageError("--repository and the target options (--target, --region, ...) apply to --ecr only")

    from dockyard.registry.push import push_image

    with LayerBars(err_console) as bars:
        if not ecr:
            result = push_image(image, to, on_progress=bars)
        else:
            from dockyard.lifecycle.calls import Aws
            from dockyard.lifecycle.target import resolve_target
            from dockyard.registry.push import push_to_ecr

            aws = Aws(resolve_target(target))
            pushed = push_to_ecr(image, aws, repository=repository, on_progress=bars)
            state = "created, scan on push" if pushed.repository.created else "existing"
            where = "the local emulator's ECR" if aws.target.is_local else "ECR"
            err_console.print(
                f"{where} repository {pushed.repository.uri} ({state})", highlight=False, soft_wrap=True
            )
            if pushed.result is None:
                err_console.print(f"tagged {image} in the local engine", highlight=False, soft_wrap=True)
                console.print(f"reference: {pushed.ecr_reference}", highlight=False, soft_wrap=True)
                return
            result = pushed.result
    err_console.print(f"pushed {result.reference} in {result.seconds:.1f} s", highlight=False, soft_wrap=True)
    console.print(f"digest: {result.digest}", highlight=False, soft_wrap=True)
    console.print(f"reference: {result.pullable}", highlight=False, soft_wrap=True)


class LayerBars:
    """Push progress: a Rich bar per layer on a terminal, else one plain line per layer state change."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        self.states: dict[str, str] = {}
        if out.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.fields[layer]}"),
                BarColumn(),
                TextColumn("{task.fields[size]:>19}"),
                TextColumn("{task.description}"),
                console=out,
            )

    def __enter__(self) -> LayerBars:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: LayerProgress) -> None:
        if self.progress is None:
            self._line(event)
            return
        task = self.tasks.get(event.layer)
        if task is None:
            task = self.tasks[event.layer] = self.progress.add_task(
                event.status, total=None, layer=event.layer, size=""
            )
        if event.done:  # a layer the registry already has comes without a size: just fill its bar
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, description=event.status, total=total, completed=total)
        elif event.total:
            # The engine counts the tar stream it sends, which can run past the layer's size.
            current = min(event.current or 0, event.total)
            size = f"{decimal(current)} / {decimal(event.total)}"
            self.progress.update(
                task, description=event.status, total=event.total, completed=current, size=size
            )
        else:
            self.progress.update(task, description=event.status)

    def _line(self, event: LayerProgress) -> None:
        if self.states.get(event.layer) == event.status:
            return
        self.states[event.layer] = event.status
        size = f" ({decimal(event.total)})" if event.total and event.status == "Pushing" else ""
        self.out.print(f"{event.layer}: {event.status}{size}", highlight=False, soft_wrap=True)


class TransferBars:
    """The transfers of a register or deploy, one after the other: the model upload (one bar) and the
    image push (a bar per layer, through :class:`LayerBars`). Rich shows one live display at a time, so
    each starts when its first event comes and the previous one stops; :meth:`close` stops both before
    the next display (the endpoint's status) starts."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.layers: LayerBars | None = None
        self.upload: Progress | None = None
        self.upload_task: TaskID | None = None
        self.upload_announced = False

    def __enter__(self) -> TransferBars:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def on_push(self, event: LayerProgress) -> None:
        self._stop_upload()
        if self.layers is None:
            self.layers = LayerBars(self.out).__enter__()
        self.layers(event)

    def on_upload(self, sent: int, total: int) -> None:
        if self.layers is not None:
            self.layers.__exit__(None, None, None)
            self.layers = None
        if not self.out.is_terminal:
            if not self.upload_announced:
                self.upload_announced = True
                self.out.print(f"uploading model.tar.gz ({decimal(total)})", highlight=False)
            return
        if self.upload is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self.upload = Progress(
                TextColumn("model.tar.gz"), BarColumn(), DownloadColumn(), console=self.out, transient=False
            )
            self.upload.start()
            self.upload_task = self.upload.add_task("upload", total=total)
        assert self.upload_task is not None
        self.upload.update(self.upload_task, completed=sent, total=total)

    def _stop_upload(self) -> None:
        if self.upload is not None:
            self.upload.stop()
            self.upload = None

    def close(self) -> None:
        self._stop_upload()
        if self.layers is not None:
            self.layers.__exit__(None, None, None)
            self.layers = None
