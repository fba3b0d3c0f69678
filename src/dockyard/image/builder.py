"""Building an image through the Docker engine, step by step, with each step's time.

The engine's build stream (classic builder) is parsed into :class:`Step` records as it arrives;
a :class:`Progress` sees each step start, print and finish (:class:`RichProgress` draws them in the
terminal). A failing step becomes a :class:`BuildError` that names the step and ends with its last
output lines: no docker SDK exception or traceback reaches the user.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from dockyard.containers.engine import connect, docker_errors
from dockyard.errors import BuildError, ContainerError, DockyardError

TAIL_LINES = 15
BUILD_TIMEOUT = 3600  # seconds the engine may stay silent (a long pip install prints little)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_EXIT_CODE = re.compile(r"returned a non-zero code: (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the engine paints a step's stderr red
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv8": "arm64"}


@dataclass(slots=True)
class Step:
    number: int
    total: int
    instruction: str
    started: float
    seconds: float = 0.0
    cached: bool = False
    image: str | None = None  # the engine's short id of the step's result
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    @property
    def title(self) -> str:
        return f"step {self.number}/{self.total} {short_instruction(self.instruction)}"


@dataclass(frozen=True, slots=True)
class BuiltImage:
    id: str
    tags: tuple[str, ...]
    size: int
    seconds: float
    steps: tuple[Step, ...]


class Progress(Protocol):
    def started(self, step: Step) -> None: ...
    def output(self, step: Step, line: str) -> None: ...
    def finished(self, step: Step) -> None: ...


def short_instruction(instruction: str, width: int = 90) -> str:
    text = " ".join(instruction.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def normalize_architecture(name: str) -> str:
    return _ARCHITECTURES.get(name, name)


def platform_architecture(platform: str) -> str:
    """``linux/arm64/v8`` → ``arm64``."""
    parts = platform.split("/")
    return normalize_architecture(parts[1] if len(parts) > 1 else parts[0])


def architecture_warning(engine_architecture: str, platform: str) -> str | None:
    """A warning when the engine's architecture is not the target platform's, else None."""
    target = platform_architecture(platform)
    engine = normalize_architecture(engine_architecture)
    if engine == target:
        return None
    return (
        f"the Docker engine runs on {engine} but the target platform is {platform}: RUN steps go through "
        "emulation (slow, and 'exec format error' without QEMU binfmt); SageMaker's ml.* instances are "
        "amd64 except the Graviton types, so an image built for the wrong architecture fails to start there"
    )


class _BuildStream:
    """Turns the engine's JSON messages into steps, timing each one."""

    def __init__(self, progress: Progress | None, clock: Callable[[], float]) -> None:
        self.steps: list[Step] = []
        self.image_id: str | None = None
        self._progress = progress
        self._clock = clock
        self._partial = ""
        self._open: Step | None = None
        self._before_first: deque[str] = deque(maxlen=TAIL_LINES)
        self._failed: BuildError | None = None

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def feed(self, message: Mapping[str, Any]) -> None:
        # After an error, read on without looking: the engine ends the stream there, and a stream read
        # to its end closes its socket (one abandoned mid-way is left open for the garbage collector).
        if self._failed is not None:
            return
        if "stream" in message:
            lines = (self._partial + str(message["stream"])).split("\n")
            self._partial = lines.pop()
            for line in lines:
                self._line(line)
        if "status" in message:  # pulling a base image
            self._output(
                " ".join(str(message[key]) for key in ("id", "status", "progress") if message.get(key))
            )
        aux = message.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            self.image_id = str(aux["ID"])
        if "error" in message or "errorDetail" in message:
            self._flush()
            detail = message.get("errorDetail") or {}
            self._failed = self._failure(
                str(message.get("error") or detail.get("message") or "unknown error")
            )

    def finish(self) -> None:
        """At the end of the stream: the step that failed, if one did."""
        if self._failed is not None:
            raise self._failed
        self._flush()
        self._close_current()

    def _flush(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""

    def _line(self, raw: str) -> None:
        line = _ANSI.sub("", raw.rsplit("\r", 1)[-1]).rstrip()  # progress bars redraw after \r
        match = _STEP.match(line)
        if match:
            self._close_current()
            number, total, instruction = match.groups()
            step = Step(int(number), int(total), instruction, started=self._clock())
            self.steps.append(step)
            self._open = step
            if self._progress:
                self._progress.started(step)
        elif line.strip() == "---> Using cache":
            if self.current:
                self.current.cached = True
        elif line.startswith(" ---> "):
            if self.current and not line.startswith(" ---> Running in "):
                self.current.image = line.removeprefix(" ---> ").strip()
        elif not line.startswith(
            ("Removing intermediate container", "Successfully built", "Successfully tagged")
        ):
            self._output(line)

    def _output(self, line: str) -> None:
        if not line.strip():
            return
        step = self.current
        if step is None:
            self._before_first.append(line)
            return
        step.tail.append(line)
        if self._progress:
            self._progress.output(step, line)

    def _close_current(self) -> None:
        step, self._open = self._open, None
        if step is not None:
            step.seconds = max(self._clock() - step.started, 0.0)
            if self._progress:
                self._progress.finished(step)

    def _failure(self, error: str) -> BuildError:
        step = self.current
        exit_code = _EXIT_CODE.search(error)
        reason = f"exit code {exit_code.group(1)}" if exit_code else error.strip()
        tail = list(step.tail) if step else list(self._before_first)
        if any("exec format error" in line for line in [*tail, error]):
            reason += "; the image's architecture is not the engine's (see the platform warning above)"
        if step and step.instruction.upper().startswith("FROM "):
            image = step.instruction.split()[1]
            reason += (
                f"; {image} is not in the engine's images and could not be pulled: pull or load it first"
            )
        where = f"{step.title} failed" if step else "the build failed before its first step"
        lines = "".join(f"\n  {line}" for line in tail)
        return BuildError(f"{where} ({reason})" + (f"; its last output lines:{lines}" if lines else ""))


def split_tag(tag: str) -> tuple[str, str | None]:
    """``repo:tag`` → (repo, tag); a registry's ``host:port`` is not a tag."""
    repository, sep, name = tag.rpartition(":")
    if not sep or "/" in name:
        return tag, None
    return repository, name


class ImageBuilder:
    """One engine connection, for building images and looking at them."""

    def __init__(self, timeout: int = BUILD_TIMEOUT) -> None:
        self._client = connect(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def architecture(self) -> str:
        with docker_errors("asking the engine for its version"):
            return normalize_architecture(str(self._client.version().get("Arch", "")))

    def build(
        self,
        context: Path,
        tags: Sequence[str],
        *,
        dockerfile: str = "Dockerfile",
        no_cache: bool = False,
        network_mode: str | None = None,
        platform: str | None = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        discard_stage: str | None = None,
    ) -> BuiltImage:
        """Build ``context`` and tag the result with every tag in ``tags`` (at least one).

        ``discard_stage``: a stage (``FROM ... AS name``) whose images are removed once the build is
        done, whatever the outcome: the classic builder keeps every stage's step images (as untagged
        images, its cache), and a stage that was given secrets would keep them there. The price is that
        stage's cache: the next build runs it again.
        """
        if not tags:
            raise ValueError("an image needs at least one tag")
        stream = _BuildStream(progress, clock)
        began = clock()
        with docker_errors(f"building {tags[0]}"):
            messages: Iterable[Mapping[str, Any]] = self._client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tags[0],
                nocache=no_cache,
                rm=True,
                forcerm=True,  # no intermediate container is left behind, even when a step fails
                network_mode=network_mode or None,
                platform=platform,
                decode=True,
            )
            try:
                for message in messages:
                    stream.feed(message)
                stream.finish()
            except BaseException:
                if discard_stage is not None:
                    with contextlib.suppress(DockyardError):  # the build's own error is the one to see
                        self._discard_stage(stream.steps, discard_stage)
                raise
            if discard_stage is not None:
                self._discard_stage(stream.steps, discard_stage)
            if stream.image_id is None:
                raise BuildError(f"the engine finished building {tags[0]} without naming an image")
            for tag in tags[1:]:
                repository, name = split_tag(tag)
                self._client.api.tag(stream.image_id, repository, name)
            size = int(self._client.images.get(stream.image_id).attrs["Size"])
        return BuiltImage(stream.image_id, tuple(tags), size, clock() - began, tuple(stream.steps))

    def _discard_stage(self, steps: Sequence[Step], stage: str) -> None:
        """Remove the images of the steps of ``stage``: its last one, and with it every untagged parent
        that no other image builds on (the stage's earlier steps; never the stage it started FROM)."""
        inside = False
        last: str | None = None
        for step in steps:
            words = step.instruction.split()
            if words and words[0].upper() == "FROM":
                if inside:
                    break
                inside = len(words) >= 4 and words[2].upper() == "AS" and words[3] == stage
                continue
            if inside and step.image:
                last = step.image
        if last is None:
            return
        import docker.errors

        try:
            self._client.images.remove(last, noprune=False)
        except docker.errors.ImageNotFound:
            pass  # removed by another build of the same project meanwhile
        except docker.errors.APIError as exc:
            raise BuildError(
                f"the build stage '{stage}' held build secrets and its image {last} could not be removed "
                f"({exc.explanation or exc}); remove it with `docker rmi {last}`"
            ) from None

    def inspect(self, image: str) -> dict[str, Any]:
        with docker_errors(f"inspecting {image}"):
            return dict(self._client.images.get(image).attrs)

    def has_executable(self, image: str, name: str, path: str) -> bool:
        """Whether ``name`` is an executable file (or a link) in a directory of ``path`` in ``image``.

        Looked up in a created, never started, container: this works on images without a shell.
        """
        with docker_errors(f"looking for {name} in {image}"):
            container = self._client.api.create_container(image, command=[name])
        try:
            for folder in filter(None, path.split(":")):
                try:
                    with docker_errors(f"looking for {name} in {image}"):
                        chunks, stat = self._client.api.get_archive(container, f"{folder}/{name}")
                        for _ in chunks:
                            pass
                except ContainerError:
                    continue  # not in this folder
                mode = int(stat.get("mode", 0))
                is_link, is_dir = bool(mode & (1 << 27)), bool(mode & (1 << 31))
                if is_link or (not is_dir and mode & 0o111):
                    return True
            return False
        finally:
            with docker_errors(f"removing the container made to inspect {image}"):
                self._client.api.remove_container(container, force=True)

    def __enter__(self) -> ImageBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RichProgress:
    """Steps in the terminal: a spinner on the running step, a line with its time when it ends."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self._console = console
        self._verbose = verbose
        self._status: Status | None = None

    def __enter__(self) -> RichProgress:
        self._status = self._console.status("sending the build context to the engine")
        self._status.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.stop()

    def started(self, step: Step) -> None:
        if self._status is not None:
            self._status.update(escape(step.title))

    def output(self, step: Step, line: str) -> None:
        if self._verbose:
            self._console.print(f"      {line}", style="dim", markup=False, highlight=False)
        if self._status is not None:
            self._status.update(f"{escape(step.title)}\n      [dim]{escape(short_instruction(line))}[/]")

    def finished(self, step: Step) -> None:
        took = f"[green]{'cached':>8}[/]" if step.cached else f"{step.seconds:>6.1f} s"
        number = f"{step.number}/{step.total}"
        instruction = short_instruction(step.instruction, max(self._console.width - 20, 30))
        self._console.print(f"  {number:>6}  {took}  {escape(instruction)}", highlight=False)
