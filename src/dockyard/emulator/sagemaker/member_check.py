"""The check of a request against the support lists (:mod:`dockyard.emulator.sagemaker.support`):
a ValidationException naming the first member that a refusal applies to, or that neither list names."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dockyard.emulator.aws.unsupported import given
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.support import HONOURED, REFUSED


def refuse_unsupported(operation: str, params: dict[str, Any]) -> None:
    """ValidationException naming the first member of ``params`` the local target refuses: one a refusal
    applies to, or one in neither list (a member that a newer botocore sends and nobody classified yet)."""
    for refusal in REFUSED.get(operation, ()):
        for where, value in _values(params, refusal.path.split("."), ""):
            if refusal.applies(value):
                raise ValidationException(
                    f"{where} is not supported by the local SageMaker (dockyard emulator) yet: "
                    f"{refusal.why}. Leave it out locally, or deploy to SageMaker (--target aws)."
                )
    unknown = next(_unclassified(params, "", "", _classified(operation)), None)
    if unknown is not None:
        raise ValidationException(
            f"{unknown} is not supported by the local SageMaker (dockyard emulator) yet. Leave it out "
            "locally, or deploy to SageMaker (--target aws)."
        )


@dataclass(frozen=True)
class _Lists:
    honoured: frozenset[str]
    refused: frozenset[str]
    parents: frozenset[str]  # paths with members classified one by one (``X`` or ``X[]`` for a list)


@functools.cache
def _classified(operation: str) -> _Lists:
    honoured = frozenset(HONOURED.get(operation, ()))
    refused = frozenset(r.path for r in REFUSED.get(operation, ()))
    parents = frozenset(path.rsplit(".", 1)[0] for path in honoured | refused if "." in path)
    return _Lists(honoured, refused, parents)


def _unclassified(node: dict[str, Any], prefix: str, where: str, lists: _Lists) -> Iterator[str]:
    """Given members of ``node`` (at ``prefix``) in neither list, as the error names them. A member left
    at its default (None, false, empty) asks for nothing and passes, as SageMaker's own defaults do."""
    for name, value in node.items():
        if not given(value):
            continue
        path = f"{prefix}.{name}" if prefix else name
        shown = f"{where}.{name}" if where else name
        if path not in lists.honoured:
            if path not in lists.refused:  # a refused member got here with a value its refusal allows
                yield shown
            continue
        item = f"{path}[]" if isinstance(value, list) else path
        if item not in lists.parents:
            continue  # honoured whole: maps (Environment), tags, structures kept as given
        if isinstance(value, dict):
            yield from _unclassified(value, path, shown, lists)
        elif isinstance(value, list):
            for index, entry in enumerate(value):
                if isinstance(entry, dict):
                    yield from _unclassified(entry, item, f"{shown}[{index}]", lists)


def _values(node: Any, parts: list[str], where: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield where, node
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    name = head.removesuffix("[]")
    if node.get(name) is None:
        return
    path = f"{where}.{name}" if where else name
    if head.endswith("[]"):
        for index, item in enumerate(node[name]):
            yield from _values(item, rest, f"{path}[{index}]")
    else:
        yield from _values(node[name], rest, path)
