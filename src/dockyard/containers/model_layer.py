"""The model directory as a tar for an image layer (``dockyard check``'s way of giving the model)."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import IO

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
