"""Media types (RFC 9110 §8.3) and Accept negotiation (RFC 9110 §12.5.1).

Both run on every request, so the parsers are small hand-written scanners (no regexes) behind
``lru_cache``: real traffic repeats a handful of header values, and the cached result is shared, which is
why ``MediaType.params`` is a read-only mapping.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dockyard.serving.errors import NotAcceptable, UnsupportedMediaType

__all__ = ["MediaType", "negotiate", "parse_media_type"]

# RFC 9110 §5.6.2 token characters.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class MediaType:
    """A parsed media type: ``type`` is the lower-cased ``"type/subtype"``; ``params`` maps lower-cased
    parameter names to their (unquoted, case-preserved) values."""

    type: str
    # Left out of the hash so the instance stays hashable; equality still compares it.
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def _skip_ows(value: str, i: int) -> int:
    n = len(value)
    while i < n and value[i] in _OWS:
        i += 1
    return i


def _token(value: str, i: int) -> int:
    """Index just past the token starting at ``i`` (``i`` itself when there is none)."""
    n = len(value)
    while i < n and value[i] in _TCHAR:
        i += 1
    return i


def _quoted(value: str, i: int) -> tuple[str, int]:
    """Read the quoted-string opening at ``value[i] == '"'``; return its unescaped text and the end."""
    out: list[str] = []
    i += 1
    n = len(value)
    while i < n:
        c = value[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i == n:
                break
            c = value[i]
        if (c < " " and c != "\t") or c == "\x7f":
            raise ValueError(f"control character {c!r} in a quoted value")
        out.append(c)
        i += 1
    raise ValueError("unterminated quoted value")


def _parse_at(value: str, i: int, in_list: bool) -> tuple[str, dict[str, str], int]:
    """Parse one media type (or media range) from ``value[i:]``.

    In a list (an Accept header) a top-level comma ends it; returns ``(type, params, end)`` with
    ``end`` at that comma or the end of ``value``. Raises ValueError with the reason.
    """
    n = len(value)
    i = _skip_ows(value, i)
    start = i
    i = _token(value, i)
    if i == start:
        raise ValueError("expected 'type/subtype'")
    if i == n or value[i] != "/":
        raise ValueError("expected 'type/subtype'")
    slash = i
    i = _token(value, i + 1)
    if i == slash + 1:
        raise ValueError("missing subtype after '/'")
    mtype = value[start:i].lower()
    params: dict[str, str] = {}
    i = _skip_ows(value, i)
    while i < n:
        c = value[i]
        if c == "," and in_list:
            break
        if c != ";":
            raise ValueError(f"unexpected {c!r} at position {i}")
        i = _skip_ows(value, i + 1)
        if i == n or value[i] in ";,":  # empty parameters are allowed by the grammar
            continue
        name_end = _token(value, i)
        if name_end == i:
            raise ValueError(f"expected a parameter name at position {i}")
        name = value[i:name_end].lower()
        # Whitespace around '=' is not in the grammar, but some clients send it; accepting it is harmless.
        i = _skip_ows(value, name_end)
        if i == n or value[i] != "=":
            raise ValueError(f"parameter {name!r} has no value")
        i = _skip_ows(value, i + 1)
        if i < n and value[i] == '"':
            pvalue, i = _quoted(value, i)
        else:
            value_end = _token(value, i)
            if value_end == i:
                raise ValueError(f"parameter {name!r} has no value")
            pvalue, i = value[i:value_end], value_end
        if name in params:
            raise ValueError(f"duplicate parameter {name!r}")
        params[name] = pvalue
        i = _skip_ows(value, i)
    return mtype, params, i


@functools.lru_cache(maxsize=256)
def parse_media_type(value: str) -> MediaType:
    """Parse a Content-Type style value such as ``text/csv; charset="utf-8"``.

    Raises UnsupportedMediaType when ``value`` is not a media type.
    """
    try:
        mtype, params, _ = _parse_at(value, 0, in_list=False)
    except ValueError as exc:
        raise UnsupportedMediaType(f"malformed media type {value!r}: {exc}") from None
    return MediaType(mtype, MappingProxyType(params))


def _qvalue(text: str) -> float:
    """RFC 9110 §12.4.2 weight: ``0[.ddd]`` or ``1[.000]``; anything else raises ValueError."""
    ok = 0 < len(text) <= 5 and text[0] in "01" and (len(text) == 1 or text[1] == ".")
    if ok:
        decimals = text[2:]
        ok = all(c in "0123456789" for c in decimals)
        if text[0] == "1":
            ok = ok and decimals.strip("0") == ""
    if not ok:
        raise ValueError(f"invalid q-value {text!r} (expected 0 to 1 with at most 3 decimals)")
    return float(text)


def _parse_accept(accept: str) -> list[tuple[str, str, float]]:
    """Split an Accept header into ``(type, subtype, q)`` ranges; other parameters are dropped."""
    ranges: list[tuple[str, str, float]] = []
    n = len(accept)
    i = 0
    while i < n:
        i = _skip_ows(accept, i)
        if i < n and accept[i] == ",":  # empty list elements are allowed
            i += 1
            continue
        if i == n:
            break
        try:
            mtype, params, end = _parse_at(accept, i, in_list=True)
            main, _, sub = mtype.partition("/")
            if main == "*" and sub != "*":
                raise ValueError("'*/subtype' is not a media range")
            q = _qvalue(params["q"]) if "q" in params else 1.0
        except ValueError as exc:
            comma = accept.find(",", i)
            entry = accept[i : comma if comma >= 0 else n].strip()
            raise NotAcceptable(f"malformed Accept entry {entry!r} in {accept!r}: {exc}") from None
        ranges.append((main, sub, q))
        i = end + 1
    return ranges


@functools.lru_cache(maxsize=256)
def _negotiate(accept: str, offered: tuple[str, ...], default: str) -> str:
    ranges = _parse_accept(accept)
    if not ranges:
        return default
    best: tuple[float, int, int, int] | None = None
    choice = default
    for index, candidate in enumerate(offered):
        main, _, sub = candidate.partition(";")[0].strip().lower().partition("/")
        # The most specific range that matches decides the weight (RFC 9110 §12.5.1).
        specificity, q = -1, 0.0
        for rmain, rsub, rq in ranges:
            if rmain == "*":
                s = 0
            elif rmain != main:
                continue
            elif rsub == "*":
                s = 1
            elif rsub == sub:
                s = 2
            else:
                continue
            if s > specificity or (s == specificity and rq > q):
                specificity, q = s, rq
        if specificity < 0 or q <= 0.0:
            continue
        # Ties go to the more specific match, then to the default (so "*/*" picks it), then offer order.
        key = (q, specificity, candidate == default, -index)
        if best is None or key > best:
            best, choice = key, candidate
    if best is None:
        raise NotAcceptable(
            f"no acceptable media type for Accept: {accept!r}; this endpoint can produce {', '.join(offered)}"
        )
    return choice


def negotiate(accept: str | None, offered: Sequence[str], default: str) -> str:
    """Pick the response media type from ``offered`` for an Accept header.

    Missing, empty or ``*/*`` Accept gives ``default``. Otherwise the highest q wins (q=0 excludes);
    ties go to the more specific range (``text/csv`` > ``text/*`` > ``*/*``), then to ``default``, then
    to the order of ``offered``. Accept parameters other than q are ignored. Returns the ``offered``
    string itself; raises NotAcceptable when nothing matches or an entry is malformed.
    """
    if accept is None or accept == "*/*":
        return default
    return _negotiate(accept, offered if isinstance(offered, tuple) else tuple(offered), default)
