"""Hypothesis strategies generated from botocore's input shapes: for every member a value of its type
(within or outside its constraints), now and then a value of the wrong type, and raw bodies mutated.

Model data URLs are only ever ``s3://`` here: the fuzzer must not point the emulator at this machine's
files (a ``file:///`` prefix would be copied if an endpoint were ever created from it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from hypothesis import strategies as st

MAX_DEPTH = 5
_URL_SHAPES = frozenset({"Url", "S3ModelUri", "S3Uri"})
_NAMEISH = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-", min_size=1, max_size=20)
_WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)


def for_shape(shape: Shape, depth: int = 0, wrong: bool = True) -> st.SearchStrategy[Any]:
    """Values for ``shape``: of its type, and with ``wrong`` sometimes of another (only where the member
    travels in a JSON body: headers, URIs and blobs of another type never leave botocore)."""
    right = _typed(shape, depth, wrong)
    if depth == 0 or not wrong:
        return right
    return st.one_of(right, right, right, _WRONG)


def _typed(shape: Shape, depth: int, wrong: bool) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        return _structure(shape, depth, wrong)
    if isinstance(shape, ListShape):
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(for_shape(shape.member, depth + 1, wrong), max_size=3)
    if isinstance(shape, MapShape):
        if depth >= MAX_DEPTH:
            return st.just({})
        return st.dictionaries(_string(shape.key), for_shape(shape.value, depth + 1, wrong), max_size=3)
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind in ("float", "double"):
        return st.floats(allow_nan=True, allow_infinity=True)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(
            min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
        )
    if kind == "blob":
        return st.binary(max_size=64)
    return _WRONG


def _string(shape: Shape) -> st.SearchStrategy[str]:
    if shape.name in _URL_SHAPES:
        return st.builds(lambda key: f"s3://dy-fuzz/{key}", _NAMEISH)
    options: list[st.SearchStrategy[str]] = [_NAMEISH, st.text(max_size=80)]
    if isinstance(shape, StringShape) and shape.enum:
        options.append(st.sampled_from(list(shape.enum)))
    high = shape.metadata.get("max")
    if isinstance(high, int) and high < 5000:
        options.append(st.text(alphabet="x", min_size=high + 1, max_size=high + 1))  # one too long
    return st.one_of(options)


def _structure(shape: StructureShape, depth: int, wrong: bool) -> st.SearchStrategy[dict[str, Any]]:
    members = shape.members
    required = [name for name in shape.required_members if name in members]
    optional = [name for name in members if name not in required]
    if depth >= MAX_DEPTH:
        optional = []
    return st.fixed_dictionaries(
        {name: for_shape(members[name], depth + 1, wrong) for name in required},
        optional={name: for_shape(members[name], depth + 1, wrong) for name in optional},
    )


def mutated(body: bytes) -> st.SearchStrategy[bytes]:
    """``body`` cut short, with bytes flipped, inserted or repeated, or replaced by junk."""
    positions = st.integers(min_value=0, max_value=max(len(body), 1))

    def flip(data: tuple[int, int]) -> bytes:
        at, value = data
        if not body:
            return bytes([value])
        at %= len(body)
        return body[:at] + bytes([value]) + body[at + 1 :]

    return st.one_of(
        positions.map(lambda at: body[:at]),
        st.tuples(positions, st.integers(0, 255)).map(flip),
        st.tuples(positions, st.binary(min_size=1, max_size=16)).map(
            lambda d: body[: d[0]] + d[1] + body[d[0] :]
        ),
        st.integers(min_value=2, max_value=50).map(lambda n: body * n),
        st.binary(max_size=256),
        st.sampled_from([b"", b"null", b"[]", b"{", b'{"a":', b"\xff\xfe", b'{"ModelName": {"$ref": 1}}']),
    )


def _insert(body: bytes, at: int, junk: bytes) -> bytes:
    return body[:at] + junk + body[at:]
