"""What every built-in flavor is, and the helpers they share: finding files, reading options, inputs.

A flavor module imports only the standard library and numpy at import time; its ML library is imported
inside ``load`` (through :func:`require`), because an image carries only the libraries its model needs
and importing all of them would cost seconds at every worker start.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from dockyard.serving.errors import BadRequest, ModelLoadError

Array: TypeAlias = npt.NDArray[Any]
Inputs: TypeAlias = Array | Mapping[str, Array]
Outputs: TypeAlias = Array | dict[str, Array]

MODEL_FILE = "model_file"
THREADS = "threads"
_LISTED = 12  # directory entries named in an error message before "and N more"


class LoadedModel(Protocol):
    """A model ready to answer requests; ``flavor`` and ``model_file`` say what was loaded, for logs."""

    flavor: str
    model_file: Path

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        """Predict; ``context`` is accepted and ignored, so the server can call it without a wrapper."""
        ...


class Flavor(Protocol):
    name: str
    accepts: str  # the files it loads, in words, for error messages

    def matches(self, model_dir: Path) -> list[Path]:
        """The files at the top of ``model_dir`` this flavor would load (sorted)."""
        ...

    def load(self, model_dir: Path, options: Mapping[str, str]) -> LoadedModel: ...


def require(module: str, flavor: str, package: str) -> ModuleType:
    """Import ``module`` for ``flavor``, or say which package the image lacks."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelLoadError(
            f"the {flavor} flavor needs the {package} package, which cannot be imported ({exc}); "
            f"add {package} to the image's requirements"
        ) from exc


def top_level_files(model_dir: Path) -> list[Path]:
    """Regular files directly in ``model_dir``, sorted, hidden ones left out (``code/`` is a directory)."""
    with os.scandir(model_dir) as entries:
        return sorted(
            Path(entry.path) for entry in entries if not entry.name.startswith(".") and entry.is_file()
        )


def with_suffix(model_dir: Path, suffixes: Iterable[str]) -> list[Path]:
    wanted = frozenset(suffixes)
    return [path for path in top_level_files(model_dir) if path.suffix.lower() in wanted]


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path`` (empty if it cannot be read): enough to sniff a format."""
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError:
        return b""


def require_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        what = "is not a directory" if model_dir.exists() else "does not exist"
        raise ModelLoadError(f"the model directory {model_dir} {what}")


def describe_dir(model_dir: Path) -> str:
    """What ``model_dir`` holds, for error messages: ``a.txt, code/, ...``."""
    with os.scandir(model_dir) as entries:
        names = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in entries)
    if not names:
        return "it is empty"
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return "it holds " + ", ".join(names[:_LISTED]) + more


def check_options(flavor: str, options: Mapping[str, str], known: Iterable[str]) -> None:
    allowed = sorted({MODEL_FILE, *known})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ModelLoadError(
            f"unknown option{'s' if len(unknown) > 1 else ''} for the {flavor} flavor: {', '.join(unknown)} "
            f"(it takes {', '.join(allowed)})"
        )


def choice_option(options: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    """The value of ``key`` (default: the first choice), which must be one of ``choices``."""
    value = options.get(key, "").strip() or choices[0]
    if value not in choices:
        raise ModelLoadError(f"option {key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def threads_option(options: Mapping[str, str]) -> int:
    """Threads per model: 1 by default, since the server runs one worker process per core."""
    text = options.get(THREADS, "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ModelLoadError(f"option {THREADS} must be a positive integer, got {text!r}")
    return int(text)


def list_option(options: Mapping[str, str], key: str) -> list[str]:
    """A list option: names separated by ',' or ';' (';' survives the KEY=VALUE,... settings syntax)."""
    return [item for item in re.split(r"[,;\s]+", options.get(key, "")) if item]


def resolve_model_file(flavor: Flavor, model_dir: Path, options: Mapping[str, str]) -> Path:
    """The file to load: the ``model_file`` option, else the flavor's only candidate in ``model_dir``."""
    require_dir(model_dir)
    chosen = options.get(MODEL_FILE, "").strip()
    if chosen:
        path = model_dir / chosen
        if not path.is_file():
            raise ModelLoadError(
                f"option {MODEL_FILE}={chosen} names no file in {model_dir} ({describe_dir(model_dir)})"
            )
        return path
    candidates = flavor.matches(model_dir)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelLoadError(
            f"no {flavor.name} model file in {model_dir} ({describe_dir(model_dir)}); "
            f"the {flavor.name} flavor loads {flavor.accepts}"
        )
    names = ", ".join(path.name for path in candidates)
    raise ModelLoadError(
        f"several {flavor.name} model files in {model_dir} ({names}); choose one with the {MODEL_FILE} option"
    )


def load_failed(path: Path, how: str, exc: BaseException) -> ModelLoadError:
    return ModelLoadError(f"could not load {path.name} with {how}: {type(exc).__name__}: {exc}")


def single_array(inputs: Inputs, flavor: str) -> Array:
    """The one array a single-input flavor takes; named inputs are a client error worth explaining."""
    if isinstance(inputs, Mapping):
        names = ", ".join(map(str, inputs))
        raise BadRequest(f"the {flavor} flavor takes one array, but the request has named inputs ({names})")
    return inputs


def as_array(value: Any) -> Array:
    """A library result as a numpy array (sparse matrices densified; pandas objects via __array__)."""
    if isinstance(value, np.ndarray):
        return value
    toarray = getattr(value, "toarray", None)
    return np.asarray(toarray() if callable(toarray) else value)
