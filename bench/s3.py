"""S3 benchmark: `aws s3 cp` of one large object up and down through dockyard's emulator and through moto
in server mode, in one run on one machine, with each server's memory sampled while it streams.

    .venv/bin/python bench/s3.py [--size-mb 200] [--rounds 2]

- **emulator**: `python -m dockyard.emulator` on a free 127.0.0.1 port with a fresh state directory
  (objects go to disk there).
- **moto**: `moto_server` (moto[server], the S3 stand-in most test suites use) on a free port.
- Each round, for each server (the order alternates between rounds): `aws s3 mb`, then `aws s3 cp FILE
  s3://...` (up: s3transfer's 8 MiB multipart upload, 10 threads) and `aws s3 cp s3://... FILE`
  (down: ranged GETs in parallel), both timed as whole CLI processes (AWS CLI v1, --only-show-errors),
  then the copy is compared byte for byte with the source. The CLI's own start-up (about 0.5 s) is in
  every number, for both servers alike.
- The server process's CPU time (user + system, every thread, from /proc) during each copy: what the
  server itself spends, independent of how busy the machine is.
- While each copy runs, the server's resident memory (VmRSS from /proc) is sampled every 20 ms: the
  peak, against the same process's RSS just before the copy, shows whether memory grows with the object.

Throughput is MB/s of the object (10^6 bytes); the ratio is emulator ÷ moto (above 1: the emulator is
faster). Medians of --rounds rounds. Target: ratio ≥ 2 both ways and the emulator's memory flat (its
peak well under the object's size). Results go to bench/results/s3-<time>.json; exit status 1 when a
copy is not byte-identical or the target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from dockyard.emulator.security.credentials import save_credentials
from local_process import cpu_seconds, free_port

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
MB = 1_000_000
TARGET_RATIO = 2.0
SECRET = "dockyard-bench-secret"


@dataclass
class Copy:
    server: str
    direction: str  # up | down
    seconds: float
    mb_per_s: float
    rss_before_mib: float
    rss_peak_mib: float
    server_cpu_s: float  # the server process's CPU time (user + system, all threads) during the copy
    identical: bool


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_rss(pid: int) -> Iterator[list[float]]:
    """Samples the process's RSS every 20 ms while the block runs; the list's max is the peak."""
    samples = [rss_mib(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            samples.append(rss_mib(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


class Server:
    def __init__(self, name: str, command: list[str], url: str, ready: str, log: Path) -> None:
        self.name = name
        self.url = url
        self.log = log.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "AWS_"))}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{name} exited while starting; see {log}")
            try:
                if httpx.get(ready, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit(f"{name} did not start within 60 s; see {log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def aws(server: Server, workdir: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=server.url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(workdir / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-credentials"),
    )
    quiet = ["--only-show-errors"] if args[1] in ("cp", "rm") else []
    done = subprocess.run(
        [str(BIN / "aws"), *args, *quiet], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"aws {' '.join(args)} against {server.name} failed: {done.stderr.strip()}")


def copy(server: Server, source: Path, workdir: Path, round_number: int) -> list[Copy]:
    bucket = f"bench-{round_number}"
    aws(server, workdir, "s3", "mb", f"s3://{bucket}")
    size_mb = source.stat().st_size / MB
    results = []
    target = workdir / f"back-{server.name}-{round_number}"
    for direction, args in (
        ("up", ("s3", "cp", str(source), f"s3://{bucket}/model.tar.gz")),
        ("down", ("s3", "cp", f"s3://{bucket}/model.tar.gz", str(target))),
    ):
        before, cpu_before = rss_mib(server.process.pid), cpu_seconds(server.process.pid)
        with peak_rss(server.process.pid) as samples:
            started = time.perf_counter()
            aws(server, workdir, *args)
            seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - cpu_before
        identical = direction == "up" or filecmp.cmp(source, target, shallow=False)
        results.append(
            Copy(server.name, direction, seconds, size_mb / seconds, before, max(samples), cpu, identical)
        )
    target.unlink(missing_ok=True)
    aws(server, workdir, "s3", "rm", f"s3://{bucket}/model.tar.gz")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="dy-bench-s3-"))
    source = workdir / "model.tar.gz"
    with source.open("wb") as out:
        for _ in range(options.size_mb):
            out.write(os.urandom(MB))
    emulator_port, moto_port = free_port(), free_port()
    # The emulator checks SigV4 signatures against its state directory's secret: the one the CLI uses.
    save_credentials(workdir / "state", SECRET)
    emulator = Server(
        "emulator",
        [
            sys.executable,
            "-m",
            "dockyard.emulator",
            "--port",
            str(emulator_port),
            "--state-dir",
            str(workdir / "state"),
        ],
        f"http://127.0.0.1:{emulator_port}",
        f"http://127.0.0.1:{emulator_port}/_dockyard/status",
        workdir / "emulator.log",
    )
    moto = Server(
        "moto",
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        f"http://127.0.0.1:{moto_port}",
        f"http://127.0.0.1:{moto_port}/moto-api/",
        workdir / "moto.log",
    )
    copies: list[Copy] = []
    try:
        for round_number in range(options.rounds):
            order = (emulator, moto) if round_number % 2 == 0 else (moto, emulator)
            for server in order:
                copies.extend(copy(server, source, workdir, round_number))
    finally:
        emulator.stop()
        moto.stop()

    def median(server: str, direction: str, field: str) -> float:
        return statistics.median(
            getattr(c, field) for c in copies if c.server == server and c.direction == direction
        )

    print(f"\n`aws s3 cp` of {options.size_mb} MB, medians of {options.rounds} rounds\n")
    print(
        "| direction | emulator MB/s | moto MB/s | ratio | emulator CPU s | moto CPU s "
        "| emulator RSS before → peak | moto RSS before → peak |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")

    def peak(server: str, direction: str) -> float:
        return max(c.rss_peak_mib for c in copies if c.server == server and c.direction == direction)

    ratios = {}
    for direction in ("up", "down"):
        ours, theirs = median("emulator", direction, "mb_per_s"), median("moto", direction, "mb_per_s")
        ratios[direction] = ours / theirs
        cells = [
            direction,
            f"{ours:.1f}",
            f"{theirs:.1f}",
            f"{ours / theirs:.2f}x",
            f"{median('emulator', direction, 'server_cpu_s'):.2f}",
            f"{median('moto', direction, 'server_cpu_s'):.2f}",
            f"{median('emulator', direction, 'rss_before_mib'):.0f} → {peak('emulator', direction):.0f} MiB",
            f"{median('moto', direction, 'rss_before_mib'):.0f} → {peak('moto', direction):.0f} MiB",
        ]
        print("| " + " | ".join(cells) + " |")
    emulator_growth = max(c.rss_peak_mib - c.rss_before_mib for c in copies if c.server == "emulator")
    identical = all(c.identical for c in copies)
    met = all(r >= TARGET_RATIO for r in ratios.values()) and emulator_growth < options.size_mb / 4
    print(
        f"\nemulator's largest RSS growth during a copy: {emulator_growth:.0f} MiB "
        f"(object: {options.size_mb} MB)"
    )
    print(
        f"byte-identical: {'yes' if identical else 'NO'}; target (≥ {TARGET_RATIO:g}x moto, flat memory): "
        f"{'PASS' if met else 'MISSED'}"
    )
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    path = results / f"s3-{stamp}.json"
    report = {"size_mb": options.size_mb, "copies": [asdict(c) for c in copies]}
    path.write_text(json.dumps(report, indent=2))
    print(f"results: {path}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if identical and met else 1


if __name__ == "__main__":
    raise SystemExit(main())
