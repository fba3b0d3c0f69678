"""``python -m dockyard.emulator``: what ``dockyard emulator up --detach`` runs in the background."""

from __future__ import annotations

import argparse
from pathlib import Path

from dockyard.emulator.process import run_foreground
from dockyard.emulator.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> None:
    defaults = EmulatorSettings()
    parser = argparse.ArgumentParser(prog="python -m dockyard.emulator")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--state-dir", type=Path, default=defaults.state_dir)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="a Host name to answer besides loopback (repeatable)",
    )
    parser.add_argument(
        "--allow-path", action="append", type=Path, default=[], help="a directory file:// model data may use"
    )
    parser.add_argument(
        "--insecure-any-credentials", action="store_true", help="accept any SigV4 signature (one is required)"
    )
    args = parser.parse_args(argv)
    settings = EmulatorSettings(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        allow_hosts=(*defaults.allow_hosts, *args.allow_host),
        allow_paths=(*defaults.allow_paths, *args.allow_path),
        insecure_any_credentials=defaults.insecure_any_credentials or args.insecure_any_credentials,
    )
    run_foreground(settings, log_level=args.log_level)


if __name__ == "__main__":
    main()
