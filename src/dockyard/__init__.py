"""dockyard: a trained model to a SageMaker-style endpoint, with the whole loop runnable locally.

The deploy lifecycle is importable from here (``dockyard.deploy(...)``, ``dockyard.invoke(...)``), with
the arguments of the commands of the same names. They are loaded on first use: the inference server
imports this package inside every image, where boto3 and the docker SDK are not installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.lifecycle.deploy import deploy
    from dockyard.lifecycle.invoke import invoke
    from dockyard.lifecycle.logs import logs
    from dockyard.lifecycle.register import approve_package, register
    from dockyard.lifecycle.resources import delete_resource, describe_resource, list_resources
    from dockyard.lifecycle.sagemaker_session import sagemaker_session

_LAZY = {
    "register": "dockyard.lifecycle.register",
    "approve_package": "dockyard.lifecycle.register",
    "deploy": "dockyard.lifecycle.deploy",
    "invoke": "dockyard.lifecycle.invoke",
    "list_resources": "dockyard.lifecycle.resources",
    "describe_resource": "dockyard.lifecycle.resources",
    "delete_resource": "dockyard.lifecycle.resources",
    "logs": "dockyard.lifecycle.logs",
    "sagemaker_session": "dockyard.lifecycle.sagemaker_session",
}

__all__ = [
    "approve_package",
    "delete_resource",
    "deploy",
    "describe_resource",
    "invoke",
    "list_resources",
    "logs",
    "register",
    "sagemaker_session",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
