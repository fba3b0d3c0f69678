"""The ``serve`` entrypoint: what SageMaker runs (``docker run IMAGE serve``).

Only the standard library's argparse here: the serving image carries no CLI framework.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.serving import logs
from dockyard.serving.settings import SettingsError, resolve


def main(
    argv: Sequence[str] | None = None, prog: str = "serve", defaults: Mapping[str, Any] | None = None
) -> None:
    # SageMaker starts the container with the single argument "serve"; when the console script is
    # itself named serve, that argument arrives here and means nothing more.
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        args = args[1:]
    try:
        settings = resolve(args, defaults=defaults, prog=prog)
    except SettingsError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    logs.configure(settings.log_level, role="supervisor")
    from dockyard.serving.supervisor import StartupError, Supervisor

    try:
        sys.exit(Supervisor(settings).run())
    except StartupError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
