"""The Docker networks endpoint containers join: never the engine's default bridge.

- ``dockyard-endpoints``: a bridge network of dockyard's own, with inter-container traffic off, so that an
  endpoint container neither sees nor is seen by the other containers on the engine. It keeps outbound
  access, as a SageMaker endpoint without network isolation has; its port is published on 127.0.0.1.
- ``dockyard-isolated``: for models created with ``EnableNetworkIsolation``. SageMaker then gives the
  container no network access at all. An ``internal`` network is the closest the engine offers that the
  emulator can still reach: no route out, no other container reachable, and no published port either (the
  engine refuses to publish ports of internal networks). The emulator reaches the server at the
  container's address on that network, which a Linux host routes to; ``network_mode=none`` would leave
  no way in at all.

Both are created on first use, labelled as dockyard's, shared by every emulator on the engine, and never
removed by the emulator (another emulator may be using them).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dockyard.containers.engine import docker_errors

if TYPE_CHECKING:
    from docker import DockerClient

ENDPOINTS_NETWORK = "dockyard-endpoints"
ISOLATED_NETWORK = "dockyard-isolated"
LABEL_NETWORK = "dockyard.network"
_NO_ICC = {"com.docker.network.bridge.enable_icc": "false"}

_lock = threading.Lock()


def network_for(client: DockerClient, isolated: bool) -> str:
    """The name of the network for an endpoint container, created if the engine lacks it."""
    name = ISOLATED_NETWORK if isolated else ENDPOINTS_NETWORK
    import docker.errors

    with _lock, docker_errors(f"creating the Docker network {name}"):
        if _exists(client, name):
            return name
        try:
            client.networks.create(
                name,
                driver="bridge",
                internal=isolated,
                options=_NO_ICC,
                labels={LABEL_NETWORK: "isolated" if isolated else "endpoints"},
            )
        except docker.errors.APIError as exc:
            # Another emulator created it between the look-up and the create: fine.
            if not _exists(client, name):
                raise exc from None
    return name


def _exists(client: DockerClient, name: str) -> bool:
    # The engine's name filter matches substrings: compare the names themselves.
    return any(network.name == name for network in client.networks.list(names=[name]))
