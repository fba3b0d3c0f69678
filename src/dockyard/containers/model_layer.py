"""The model directory as a tar for an image layer (``dockyard check``'s way of giving the model)."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from dockyard.containers.run_spec import MODEL_DIR


def model_tar(model_dir: Path) -> IO[bytes]:
    """The model directory as a tar (in a temporary file: models can be large) whose entries sit under
    opt/ml/model/, owned by root as SageMaker's unpacked files are."""

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    with tarfile.open(fileobj=spool, mode="w") as tar:
        for directory in ("opt", "opt/ml"):
            entry = tarfile.TarInfo(directory)
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o755
            tar.addfile(as_root(entry))
        tar.add(model_dir, arcname=MODEL_DIR.lstrip("/"), filter=as_root)
    spool.seek(0)
    return spool


def writes_under_model_dir(changes: list[dict[str, Any]]) -> list[str]:
    """``docker diff`` entries under /opt/ml/model, as "added /opt/ml/model/x" (what would fail on
    SageMaker's read-only directory)."""
    kinds = {0: "changed", 1: "added", 2: "deleted"}
    found = [
        (str(change["Path"]), kinds.get(int(change["Kind"]), "changed"))
        for change in changes
        if str(change["Path"]) == MODEL_DIR or str(change["Path"]).startswith(MODEL_DIR + "/")
    ]
    # Python tries to cache bytecode next to imported handler code; on a read-only directory it
    # silently does without, so these are not writes that would fail.
    found = [(path, kind) for path, kind in found if "/__pycache__" not in path]
    children = [(path, kind) for path, kind in found if path != MODEL_DIR]
    return [f"{kind} {path}" for path, kind in (children or found)]
