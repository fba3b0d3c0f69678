"""Launch nginx in front of gunicorn (sync workers on a unix socket) in front of `predictor:app`.

The "bring your own container" serving stack, for the benchmark: run with the `byoc` peer venv's
Python as `serve.py --model-dir DIR --port P --workers N --log-dir DIR`. nginx runs in the
foreground with a config generated into a scratch directory and listens on 127.0.0.1:P only.
SIGTERM stops both (nginx gets SIGQUIT, gunicorn SIGTERM); if either child exits, so does this.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {log_dir}/byoc-nginx-error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log {log_dir}/byoc-nginx-access.log;
    client_body_temp_path {scratch}/client_body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;

    upstream gunicorn {{
        server unix:{socket};
    }}

    server {{
        listen 127.0.0.1:{port} deferred;
        client_max_body_size 6m;
        keepalive_timeout 5;
        proxy_read_timeout 60s;

        location ~ ^/(ping|invocations)$ {{
            proxy_set_header Host $http_host;
            proxy_redirect off;
            proxy_pass http://gunicorn;
        }}

        location / {{
            return 404 "{{}}";
        }}
    }}
}}
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=60)
    return parser.parse_args()


def write_nginx_conf(scratch: Path, socket: Path, port: int, log_dir: Path) -> Path:
    conf = scratch / "nginx.conf"
    text = NGINX_CONF.format(scratch=scratch, socket=socket, port=port, log_dir=log_dir.resolve())
    conf.write_text(text)
    return conf


def start_gunicorn(args: argparse.Namespace, socket: Path) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    argv = [
        str(gunicorn),
        "--chdir", str(HERE),
        "--worker-class", "sync",
        "--workers", str(args.workers),
        "--timeout", str(args.timeout),
        "--bind", f"unix:{socket}",
        "--no-control-socket",
        "predictor:app",
    ]  # fmt: skip
    env = {**os.environ, "MODEL_DIR": str(args.model_dir.resolve())}
    return subprocess.Popen(argv, env=env)


def start_nginx(conf: Path, scratch: Path) -> subprocess.Popen[bytes]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen([nginx, "-p", str(scratch), "-e", "stderr", "-c", str(conf)])


def wait_for_socket(socket: Path, gunicorn: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if socket.exists():
            return
        if gunicorn.poll() is not None:
            sys.exit(f"gunicorn exited with {gunicorn.returncode} before binding {socket}")
        time.sleep(0.05)
    sys.exit(f"gunicorn did not bind {socket} within {deadline_s} s")


def run(args: argparse.Namespace, scratch: Path) -> int:
    scratch.chmod(0o755)  # nginx workers run as an unprivileged user and must reach the socket
    socket = scratch / "gunicorn.sock"
    gunicorn = start_gunicorn(args, socket)
    wait_for_socket(socket, gunicorn, deadline_s=60)
    nginx = start_nginx(write_nginx_conf(scratch, socket, args.port, args.log_dir), scratch)

    def stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        for child, sig in ((nginx, signal.SIGQUIT), (gunicorn, signal.SIGTERM)):
            if child.poll() is None:
                child.send_signal(sig)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while nginx.poll() is None and gunicorn.poll() is None:
        time.sleep(0.2)
    stop(signal.SIGTERM, None)
    for child in (nginx, gunicorn):
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
    return 0


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="byoc-") as scratch:
        sys.exit(run(args, Path(scratch)))


if __name__ == "__main__":
    main()
