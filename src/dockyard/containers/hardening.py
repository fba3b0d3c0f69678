"""How every model container is confined: what SageMaker's hosting gives a container, and no more.

A model image is code from anywhere, and the emulator starts whatever image a CreateModel names, so its
containers get: no privileged mode; every capability dropped but the few a server that starts as root
and hands work to an unprivileged user needs (nginx and gunicorn do: CHOWN, DAC_OVERRIDE, FOWNER,
SETUID, SETGID, KILL for its workers, NET_BIND_SERVICE for a port below 1024); ``no-new-privileges``
(no setuid binary can raise them again); CPU, memory (without extra swap) and process limits always;
the model mounted read-only; no Docker socket or other host path; ports on 127.0.0.1 only.
"""

from __future__ import annotations

from typing import Any

from dockyard.containers.run_spec import MODEL_DIR, Limits

CAP_ADD = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")
SECURITY_OPT = ("no-new-privileges",)
PIDS_LIMIT = 4096  # processes and threads: ample for many workers of many threads, fatal to a fork bomb
# Raised whenever the options change, so that an emulator re-adopts only containers confined as it would.
HARDENING_VERSION = "1"
LABEL_HARDENING = "dockyard.hardening"


def hardened_host_config(limits: Limits) -> dict[str, Any]:
    """``containers.create`` options that confine a model container."""
    return {
        "privileged": False,
        "cap_drop": ["ALL"],
        "cap_add": list(CAP_ADD),
        "security_opt": list(SECURITY_OPT),
        "pids_limit": PIDS_LIMIT,
        "nano_cpus": limits.nano_cpus,
        "mem_limit": limits.memory,
        "memswap_limit": limits.memory,
    }


def hardening_gaps(attrs: dict[str, Any]) -> list[str]:
    """What a container (``docker inspect``'s attributes) lacks of the confinement above; [] when none."""
    host: dict[str, Any] = attrs.get("HostConfig") or {}
    gaps = []
    if host.get("Privileged"):
        gaps.append("privileged mode")
    if [cap.upper().removeprefix("CAP_") for cap in host.get("CapDrop") or []] != ["ALL"]:
        gaps.append(f"capabilities not all dropped (CapDrop={host.get('CapDrop')})")
    added = sorted(cap.upper().removeprefix("CAP_") for cap in host.get("CapAdd") or [])
    if not set(added) <= set(CAP_ADD):
        gaps.append(f"capabilities beyond {', '.join(CAP_ADD)} (CapAdd={host.get('CapAdd')})")
    if "no-new-privileges" not in (host.get("SecurityOpt") or []) and "no-new-privileges:true" not in (
        host.get("SecurityOpt") or []
    ):
        gaps.append("no-new-privileges not set")
    if not host.get("NanoCpus") or not host.get("Memory") or not host.get("PidsLimit"):
        gaps.append("CPU, memory or process limit missing")
    for mount in attrs.get("Mounts") or []:
        if mount.get("Destination") != MODEL_DIR:
            gaps.append(f"host path mounted at {mount.get('Destination')}")
        elif mount.get("RW"):
            gaps.append(f"{MODEL_DIR} mounted writable")
    for bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).values():
        for binding in bindings or []:
            if binding.get("HostIp") != "127.0.0.1":
                gaps.append(f"a port published on {binding.get('HostIp') or 'all addresses'}")
    return gaps
