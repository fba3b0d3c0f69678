"""Free ports for the servers the serving benchmark starts, and the error every server failure raises."""

from __future__ import annotations

import random
import socket

PORT_RANGE = (20000, 32000)  # MMS refuses ports >= 32767; Linux hands out ephemeral ports above 32767


class ServerError(Exception):
    """A server did not start, did not answer, or answered wrongly."""


def free_port(rng: random.Random, attempts: int = 200, exclude: int = 0) -> int:
    for _ in range(attempts):
        port = rng.randint(*PORT_RANGE)
        if port == exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServerError(f"no free port in {PORT_RANGE} after {attempts} tries")
