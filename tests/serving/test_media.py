"""Media type parsing and Accept negotiation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.serving.errors import NotAcceptable, UnsupportedMediaType
from dockyard.serving.media import MediaType, negotiate, parse_media_type

JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"
OFFERED = (JSON, "application/jsonlines", CSV, NPY, "application/octet-stream")


# --- parse_media_type -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mtype", "params"),
    [
        ("application/json", "application/json", {}),
        ("Text/CSV", "text/csv", {}),
        ("  text/csv  ", "text/csv", {}),
        ("text/csv; charset=utf-8", "text/csv", {"charset": "utf-8"}),
        ("text/csv;CHARSET=UTF-8", "text/csv", {"charset": "UTF-8"}),
        ("text/csv;\tcharset=utf-8 ;header=present", "text/csv", {"charset": "utf-8", "header": "present"}),
        ('text/csv; charset="utf-8"', "text/csv", {"charset": "utf-8"}),
        ('a/b; x="semi;colon, comma"; y=2', "a/b", {"x": "semi;colon, comma", "y": "2"}),
        (r'a/b; x="esc\"aped\\"', "a/b", {"x": 'esc"aped\\'}),
        ('a/b; x=""', "a/b", {"x": ""}),
        ("text/csv;", "text/csv", {}),
        ("text/csv;; charset=utf-8;", "text/csv", {"charset": "utf-8"}),
        ("text/csv; charset = utf-8", "text/csv", {"charset": "utf-8"}),
        ("application/vnd.api+json", "application/vnd.api+json", {}),
    ],
)
def test_parse_media_type(value: str, mtype: str, params: dict[str, str]) -> None:
    parsed = parse_media_type(value)
    assert parsed.type == mtype
    assert dict(parsed.params) == params
    assert parsed == MediaType(mtype, params)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "expected 'type/subtype'"),
        ("text", "expected 'type/subtype'"),
        ("/csv", "expected 'type/subtype'"),
        ("text/", "missing subtype after '/'"),
        ("text /csv", "expected 'type/subtype'"),
        ("text/csv extra", "unexpected 'e' at position 9"),
        ("text/csv, application/json", "unexpected ',' at position 8"),
        ("text/csv; charset", "parameter 'charset' has no value"),
        ("text/csv; charset=", "parameter 'charset' has no value"),
        ("text/csv; =utf-8", "expected a parameter name at position 10"),
        ('text/csv; a="x', "unterminated quoted value"),
        ('text/csv; a="x\\', "unterminated quoted value"),
        ('text/csv; a="x\x01"', "control character '\\x01' in a quoted value"),
        ("text/csv; a=1; A=2", "duplicate parameter 'a'"),
        ("text/csv; a=b c", "unexpected 'c' at position 14"),
        ("téxt/csv", "expected 'type/subtype'"),
    ],
)
def test_parse_media_type_rejects_malformed(value: str, reason: str) -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        parse_media_type(value)
    assert excinfo.value.message == f"malformed media type {value!r}: {reason}"
    assert excinfo.value.status == 415


def test_parsed_media_types_are_shared_read_only_and_hashable() -> None:
    first = parse_media_type("text/csv; charset=utf-8")
    assert parse_media_type("text/csv; charset=utf-8") is first  # cached
    with pytest.raises(TypeError):
        first.params["charset"] = "latin-1"  # type: ignore[index]
    assert hash(first) == hash(MediaType("text/csv", {"charset": "other"}))
    assert first != MediaType("text/csv", {"charset": "other"})
    assert MediaType("text/csv").params == {}


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-+.!#$&^_", min_size=1, max_size=8)
_QUOTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


@given(
    main=_TOKEN,
    sub=_TOKEN,
    params=st.dictionaries(_TOKEN, _QUOTABLE, max_size=4),
    upper=st.booleans(),
)
def test_parse_media_type_round_trips_quoted_parameters(
    main: str, sub: str, params: dict[str, str], upper: bool
) -> None:
    quoted = {k: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for k, v in params.items()}
    text = f"{main}/{sub}" + "".join(f" ; {k.upper() if upper else k}={v}" for k, v in quoted.items())
    parsed = parse_media_type(text)
    assert parsed.type == f"{main}/{sub}"
    assert dict(parsed.params) == params


# --- negotiate ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "", "  ", "*/*", " */* ", "*/*;q=0.5", ",", "*/*, */*"])
def test_negotiate_defaults(accept: str | None) -> None:
    assert negotiate(accept, OFFERED, CSV) == CSV
    assert negotiate(accept, OFFERED, JSON) == JSON


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv", CSV),
        ("TEXT/CSV", CSV),
        ("application/x-npy", NPY),
        ("text/csv;charset=utf-8", CSV),  # parameters other than q are ignored for matching
        ("text/*", CSV),
        ("application/*", JSON),  # several match: the default wins the tie
        ("text/csv, application/json", JSON),  # equal q and specificity: default first
        ("text/csv;q=0.9, application/json;q=0.8", CSV),
        ("application/json;q=0.5, text/csv", CSV),
        ("*/*;q=0.1, text/csv", CSV),
        ("text/*, application/x-npy", NPY),  # an exact match beats a type range at equal q
        ("text/*;q=1, application/x-npy;q=0.999", CSV),  # ...but q comes first
        ("*/*, application/json;q=0", "application/jsonlines"),  # q=0: not acceptable
        ("*/*, application/*;q=0, text/csv;q=0.2", CSV),  # the most specific range decides each q
        ("application/json;q=0, application/*;q=0.5", "application/jsonlines"),
        ("application/json;q=0.5;charset=utf-8, text/csv;q=0.4", JSON),
        ('text/csv;q=0.2;foo="a,b", application/x-npy;q=0.1', CSV),  # comma inside a quoted value
        (",, text/csv ,", CSV),  # empty list elements are allowed
        ("text/csv;q=0.5, text/csv;q=0.7, application/json;q=0.6", CSV),  # repeated range: best q
        ("image/png, text/csv;q=0.001", CSV),
        ("text/csv;Q=1.000", CSV),
        ("text/csv;q=1., application/json;q=0.", CSV),
    ],
)
def test_negotiate_picks_best(accept: str, expected: str) -> None:
    assert negotiate(accept, OFFERED, JSON) == expected


def test_negotiate_ties_follow_offered_order_then_default() -> None:
    assert negotiate("text/*", ["text/plain", CSV], JSON) == "text/plain"
    assert negotiate("text/*", [CSV, "text/plain"], JSON) == CSV
    assert negotiate("text/*", [CSV, "text/plain"], "text/plain") == "text/plain"
    assert negotiate("*/*;q=0.9", [CSV, JSON], "image/png") == CSV  # default not offered: order decides


def test_negotiate_returns_the_offered_string_and_accepts_any_sequence() -> None:
    assert negotiate("text/csv", ["Text/CSV"], JSON) == "Text/CSV"
    assert negotiate("text/csv", [JSON, CSV], JSON) == CSV
    assert negotiate("text/csv", (JSON, CSV), JSON) == CSV


@pytest.mark.parametrize(
    "accept",
    ["image/png", "text/csv;q=0", "*/*;q=0", "text/*;q=0, application/*;q=0", "image/*, video/mp4"],
)
def test_negotiate_nothing_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable) as excinfo:
        negotiate(accept, [JSON, CSV], JSON)
    assert excinfo.value.message == (
        f"no acceptable media type for Accept: {accept!r}; "
        "this endpoint can produce application/json, text/csv"
    )
    assert excinfo.value.status == 406


def test_negotiate_with_nothing_offered() -> None:
    with pytest.raises(NotAcceptable, match=r"can produce $"):
        negotiate("text/csv", [], JSON)


@pytest.mark.parametrize(
    ("accept", "entry", "reason"),
    [
        ("text/csv;q=2", "text/csv;q=2", "invalid q-value '2' (expected 0 to 1 with at most 3 decimals)"),
        (
            "text/csv;q=1.001",
            "text/csv;q=1.001",
            "invalid q-value '1.001' (expected 0 to 1 with at most 3 decimals)",
        ),
        (
            "text/csv;q=0.1234",
            "text/csv;q=0.1234",
            "invalid q-value '0.1234' (expected 0 to 1 with at most 3 decimals)",
        ),
        (
            "text/csv;q=abc",
            "text/csv;q=abc",
            "invalid q-value 'abc' (expected 0 to 1 with at most 3 decimals)",
        ),
        ("text/csv;q=.5", "text/csv;q=.5", "invalid q-value '.5' (expected 0 to 1 with at most 3 decimals)"),
        ("text/csv;q=-0", "text/csv;q=-0", "invalid q-value '-0' (expected 0 to 1 with at most 3 decimals)"),
        ("application/json, text/csv;q=", "text/csv;q=", "parameter 'q' has no value"),
        ("application/json, */csv", "*/csv", "'*/subtype' is not a media range"),
        ("application/json,text", "text", "expected 'type/subtype'"),
        ("text/csv;q=0.5;q=0.6", "text/csv;q=0.5;q=0.6", "duplicate parameter 'q'"),
    ],
)
def test_negotiate_rejects_malformed_entries(accept: str, entry: str, reason: str) -> None:
    with pytest.raises(NotAcceptable) as excinfo:
        negotiate(accept, OFFERED, JSON)
    assert excinfo.value.message == f"malformed Accept entry {entry!r} in {accept!r}: {reason}"


_TYPES = ["application/json", "text/csv", "text/plain", "application/x-npy", "image/png"]
_RANGE = st.one_of(
    st.sampled_from(_TYPES),
    st.sampled_from(["*/*", "text/*", "application/*", "image/*"]),
)
_Q = st.one_of(st.none(), st.sampled_from(["0", "0.1", "0.5", "0.999", "1", "1.0", "0.25"]))


def _reference_q(ranges: list[tuple[str, str | None]], offered: str) -> float:
    """The RFC rule, written plainly: the most specific matching range gives the weight."""
    best_spec, best_q = -1, 0.0
    main = offered.partition("/")[0]
    for media_range, q in ranges:
        spec = (
            2
            if media_range == offered
            else 1
            if media_range == f"{main}/*"
            else 0
            if media_range == "*/*"
            else -1
        )
        weight = float(q) if q is not None else 1.0
        if spec > best_spec or (spec == best_spec and weight > best_q):
            best_spec, best_q = spec, weight
    return best_q if best_spec >= 0 else 0.0


@given(
    ranges=st.lists(st.tuples(_RANGE, _Q), max_size=6),
    offered=st.lists(st.sampled_from(_TYPES), min_size=1, max_size=5, unique=True),
    data=st.data(),
)
def test_negotiate_property(
    ranges: list[tuple[str, str | None]], offered: list[str], data: st.DataObject
) -> None:
    default = data.draw(st.sampled_from(offered))
    accept = ", ".join(r if q is None else f"{r};q={q}" for r, q in ranges)
    weights = {o: _reference_q(ranges, o) for o in offered}
    try:
        chosen = negotiate(accept, offered, default)
    except NotAcceptable:
        assert ranges
        assert max(weights.values()) == 0.0
        return
    assert chosen in offered
    if ranges and accept != "*/*":
        assert weights[chosen] == max(weights.values()) > 0.0


@given(
    accept=st.text(max_size=40),
    offered=st.lists(st.sampled_from(_TYPES), min_size=1, max_size=4, unique=True),
)
def test_negotiate_never_returns_anything_not_offered(accept: str, offered: list[str]) -> None:
    with contextlib.suppress(NotAcceptable):
        assert negotiate(accept, offered, offered[0]) in offered
