"""Server-side validation of parsed parameters against an input shape, worded as AWS words it.

AWS reports every failure at once: ``2 validation errors detected: Value 'x' at 'modelName' failed to
satisfy constraint: Member must ...; Value null at ...``. Paths are camelCase member names joined by '.',
list items ``productionVariants.1.member.variantName`` (1-based). Constraints on the items of a list of
scalars (or on map keys/values) are reported once for the list, as ``Member must satisfy constraint: [...]``.

A checker is compiled once per shape and cached, so validating a request costs a few dict look-ups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from dockyard.emulator.aws.patterns import compile_pattern
from dockyard.emulator.errors import ValidationException

# (value, path, errors): appends "Value ... at 'path' failed to satisfy constraint: ..." entries.
Check = Callable[[Any, str, list[str]], None]
# value -> the constraints it fails, as AWS words them.
Constraints = Callable[[Any], list[str]]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (dt.datetime,),
    "blob": (bytes, bytearray, memoryview),
    "list": (list, tuple),
    "map": (Mapping,),
    "structure": (Mapping,),
}
_NUMERIC = frozenset({"integer", "long", "float", "double"})

# Keyed by shape identity (the shape is kept in the value so its id is never reused). Shapes come from
# the cached service models, so this stays bounded; do not feed it freshly resolved shapes per request.
_cache: dict[int, tuple[Shape, Check]] = {}


def validate(shape: StructureShape, params: Mapping[str, Any]) -> None:
    """Raise ``ValidationException`` listing every constraint ``params`` breaks; return if none."""
    errors: list[str] = []
    _checker(shape)(params, "", errors)
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        shown = "; ".join(errors[:MAX_LISTED])
        if len(errors) > MAX_LISTED:
            shown += f"; (and {len(errors) - MAX_LISTED} more)"
        raise ValidationException(f"{len(errors)} validation {noun} detected: {shown}")


def camel(name: str) -> str:
    """AWS's spelling of a member in validation paths: ``ModelName`` -> ``modelName``."""
    return name[:1].lower() + name[1:]


def display_pattern(pattern: str) -> str:
    """The pattern as SageMaker prints it. Its name patterns are anchored with '^' service-side (and were
    in older botocore models); the current models dropped the anchor, so it is put back for those."""
    if pattern.startswith("[a-zA-Z0-9]"):
        return "^" + pattern
    return pattern


# How much of a value a message echoes. SageMaker's front end does not document a limit, but it never
# answers with a message the size of the request: a value is shown up to this many characters, then
# "...", so that a 10 MB field comes back as a sub-kilobyte error instead of a 10 MB one.
MAX_ECHO = 256
_ELLIPSIS = "..."
# A request with thousands of bad list items still gets a bounded message: every failure is counted, the
# first ones are listed.
MAX_LISTED = 50


def render(value: Any, limit: int = MAX_ECHO) -> str:
    """A value the way AWS's (Java) messages print it, cut to ``limit`` characters (plus "...")."""
    parts: list[str] = []
    _render_into(value, parts, [limit + 1])
    text = "".join(parts)
    return text if len(text) <= limit else text[:limit] + _ELLIPSIS


def _render_into(value: Any, parts: list[str], room: list[int]) -> None:
    """Append ``value``'s rendering to ``parts`` until ``room[0]`` characters are spent: a huge map or list
    is never rendered whole only to be cut."""
    if room[0] <= 0:
        return
    if isinstance(value, Mapping):
        _render_items(((f"{k}=", v) for k, v in value.items()), "{", "}", parts, room)
        return
    if isinstance(value, list | tuple):
        _render_items((("", v) for v in value), "[", "]", parts, room)
        return
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dt.datetime):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, str):
        text = value[: room[0]]
    else:
        text = str(value)
    parts.append(text)
    room[0] -= len(text)


def _render_items(
    items: Iterator[tuple[str, Any]], opening: str, closing: str, parts: list[str], room: list[int]
) -> None:
    parts.append(opening)
    room[0] -= 1
    for index, (label, item) in enumerate(items):
        if room[0] <= 0:
            return
        separator = ", " if index else ""
        parts.append(separator + label)
        room[0] -= len(separator) + len(label)
        _render_into(item, parts, room)
    parts.append(closing)
    room[0] -= 1


def _entry(value: Any, path: str, constraint: str, sensitive: bool) -> str:
    shown = "" if sensitive else ("null " if value is None else f"'{render(value)}' ")
    return f"Value {shown}at '{path}' failed to satisfy constraint: {constraint}"


def _checker(shape: Shape) -> Check:
    cached = _cache.get(id(shape))
    if cached is not None:
        return cached[1]
    # Shapes can be recursive: register a forwarder before building, then point it at the real check.
    slot: list[Check] = []

    def forward(value: Any, path: str, errors: list[str]) -> None:
        slot[0](value, path, errors)

    _cache[id(shape)] = (shape, forward)
    check = _build(shape)
    slot.append(check)
    _cache[id(shape)] = (shape, check)
    return check


def _build(shape: Shape) -> Check:
    if isinstance(shape, StructureShape):
        return _structure_check(shape)
    own = _constraints(shape)
    sensitive = bool(shape.metadata.get("sensitive"))
    items: Check | None = None
    if isinstance(shape, ListShape):
        items = _list_items_check(shape.member)
    elif isinstance(shape, MapShape):
        items = _map_entries_check(shape.key, shape.value)

    def check(value: Any, path: str, errors: list[str]) -> None:
        failed = own(value)
        if failed:
            errors.extend(_entry(value, path, c, sensitive) for c in failed)
        elif items is not None:
            items(value, path, errors)

    return check


def _structure_check(shape: StructureShape) -> Check:
    members = shape.members
    required = frozenset(shape.required_members)
    names = tuple(members)
    paths = {name: camel(name) for name in names}

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, Mapping):
            errors.append(_entry(value, path, "Member must be a structure", False))
            return
        prefix = f"{path}." if path else ""
        for name in names:
            member = value.get(name)
            if member is not None:
                _checker(members[name])(member, prefix + paths[name], errors)
            elif name in required:
                errors.append(_entry(None, prefix + paths[name], "Member must not be null", False))
        for name in value:
            if name not in members:
                unknown = prefix + camel(render(name))
                errors.append(_entry(value[name], unknown, "Member is not part of the input", False))

    return check


def _list_items_check(member: Shape) -> Check:
    if isinstance(member, StructureShape | ListShape | MapShape):

        def nested(value: Any, path: str, errors: list[str]) -> None:
            item_check = _checker(member)
            for index, item in enumerate(value, start=1):
                if item is None:
                    errors.append(_entry(None, f"{path}.{index}.member", "Member must not be null", False))
                else:
                    item_check(item, f"{path}.{index}.member", errors)

        return nested
    item_constraints = _constraints(member)

    def scalars(value: Any, path: str, errors: list[str]) -> None:
        failed: list[str] = []
        for item in value:
            failed.extend(c for c in item_constraints(item) if c not in failed)
        if failed:
            errors.append(
                _entry(value, path, f"Member must satisfy constraint: [{', '.join(failed)}]", False)
            )

    return scalars


def _map_entries_check(key: Shape, value_shape: Shape) -> Check:
    key_constraints = _constraints(key)
    nested = isinstance(value_shape, StructureShape | ListShape | MapShape)
    value_constraints = _constraints(value_shape)

    def check(value: Any, path: str, errors: list[str]) -> None:
        for label, constraints in (("key", key_constraints), ("value", value_constraints)):
            failed: list[str] = []
            for k, v in value.items():
                for c in constraints(k if label == "key" else v):
                    if c not in failed:
                        failed.append(c)
            if failed:
                text = f"Map {label} must satisfy constraint: [{', '.join(failed)}]"
                errors.append(_entry(value, path, text, False))
                return
        if nested:
            for k, v in value.items():
                _checker(value_shape)(v, f"{path}.{render(k)}", errors)

    return check


# A documented deviation of the local target: model data may also be a file:/// URL (ModelDataUrl is a
# ``Url``, ModelDataSource's S3Uri an ``S3ModelUri``), as SageMaker's own local mode allows.
FILE_URL_SHAPES = frozenset({"Url", "S3ModelUri"})


def _constraints(shape: Shape) -> Constraints:
    """The failing-constraints function of a shape's own value (type, length/range, enum, pattern)."""
    type_name = shape.type_name
    types = _TYPES.get(type_name, (object,))
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    sized = type_name in ("string", "blob", "list", "map")
    noun = "length" if sized else "value"
    enum = tuple(shape.enum) if isinstance(shape, StringShape) and shape.enum else ()
    enum_set = frozenset(enum)
    pattern = compile_pattern(meta["pattern"]) if "pattern" in meta else None
    pattern_text = display_pattern(meta["pattern"]) if pattern is not None else ""
    type_text = f"Member must be of type {type_name}"
    accepts_files = shape.name in FILE_URL_SHAPES

    def constraints(value: Any) -> list[str]:
        # Kept in a variable so that mypy leaves ``value`` as Any (the tuple of types is data).
        typed = isinstance(value, types) and not (type_name in _NUMERIC and isinstance(value, bool))
        if not typed:
            return [type_text]
        failed: list[str] = []
        if low is not None or high is not None:
            size = len(value) if sized else value
            if high is not None and size > high:
                failed.append(f"Member must have {noun} less than or equal to {high}")
            if low is not None and size < low:
                failed.append(f"Member must have {noun} greater than or equal to {low}")
        if enum and value not in enum_set:
            failed.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        local_file = accepts_files and value.startswith("file:///")
        if pattern is not None and pattern.fullmatch(value) is None and not local_file:
            failed.append(f"Member must satisfy regular expression pattern: {pattern_text}")
        return failed

    return constraints
