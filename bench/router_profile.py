"""The router benchmark's ``--profile``: ``py-spy record`` attached to the process that serves the
emulator URL while one wrk run lasts, a speedscope file under bench/results/, and the top functions
by own samples (the leaf frame of each sample) printed.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from router_report import RESULTS

PY_SPY = Path(sys.executable).with_name("py-spy")
ATTACH_S = 1.0  # for py-spy to attach, or to fail to
TOP = 15


def profile_path(name: str) -> Path:
    """Relative names are under bench/results/; ``.speedscope.json`` is added unless it ends ``.json``."""
    path = Path(name)
    if not path.is_absolute():
        path = RESULTS / path
    return path if path.name.endswith(".json") else path.with_name(f"{path.name}.speedscope.json")


class Profile:
    """One ``py-spy record`` of ``pid``, from :meth:`start` to :meth:`stop`."""

    def __init__(self, pid: int, path: Path) -> None:
        self.pid, self.path = pid, path
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in start or stop): py-spy's output
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """False (and why, printed) if py-spy cannot attach: then there is nothing to stop."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        command = [str(PY_SPY), "record", "--pid", str(self.pid), "--format", "speedscope"]
        output = [*command, "-o", str(self.path)]
        process = subprocess.Popen(output, stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(ATTACH_S)
        if process.poll() is not None:
            self.log.seek(0)
            why = self.log.read().decode(errors="replace").strip()[-500:]
            self.log.close()
            itself = " (this process itself: it may not be allowed to trace itself here)"
            print(
                f"  profile: py-spy could not attach to pid {self.pid}"
                f"{itself if self.pid == os.getpid() else ''}: {why}; not profiling",
                flush=True,
            )
            return False
        self.process = process
        return True

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.seek(0)
        said = self.log.read().decode(errors="replace").strip()[-500:]
        self.log.close()
        if not self.path.exists():
            print(f"  profile: py-spy wrote no file: {said}")
            return
        print_top(self.path, self.pid)


def print_top(path: Path, pid: int, count: int = TOP) -> None:
    """The functions with the most own samples (leaf frames), all threads together."""
    document = json.loads(path.read_text())
    frames = document["shared"]["frames"]
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    for profile in document["profiles"]:
        for stack in profile["samples"]:
            if stack:  # root first: the leaf is the last frame
                frame = frames[stack[-1]]
                own[frame["name"], frame.get("file") or ""] += 1
    total = sum(own.values())
    print(f"  profile of pid {pid}: {path} ({total} samples); top {count} functions by own samples:")
    for (name, file), samples in own.most_common(count):
        print(f"    {samples / max(total, 1):6.1%} {samples:7d}  {name} ({file})")
