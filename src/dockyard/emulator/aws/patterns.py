"""The service models' ``pattern`` constraints are Java regular expressions; this compiles them for ``re``.

AWS validates a whole value against the pattern (``Matcher.matches``), so callers use ``fullmatch``.
What Java has and ``re`` lacks: ``\\p{...}`` classes (Unicode general categories and the ASCII-only POSIX
names), ``\\z``, and a quantifier after ``$`` (seen in tag patterns, where it can only mean ``$``).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

# Java's POSIX classes are ASCII-only unless UNICODE_CHARACTER_CLASS is set, which AWS does not use.
_POSIX = {
    "ASCII": r"\x00-\x7f",
    "Print": r"\x20-\x7e",
    "Graph": r"\x21-\x7e",
    "Alpha": r"a-zA-Z",
    "Digit": r"0-9",
    "Alnum": r"a-zA-Z0-9",
    "Upper": r"A-Z",
    "Lower": r"a-z",
    "Punct": r"!-/:-@\[-`{-~",
    "Space": r" \t\n\x0b\f\r",
    "Blank": r" \t",
    "XDigit": r"0-9a-fA-F",
    "Cntrl": r"\x00-\x1f\x7f",
}

_PROPERTY = re.compile(r"\\([pP])\{(\w+)\}")


@cache
def _category_ranges() -> dict[str, str]:
    """Character-class ranges per major Unicode category (L, M, N, P, S, Z, C), built once on first use."""
    found: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    for code in range(sys.maxunicode + 1):
        major = category(chr(code))[0]
        spans = found.setdefault(major, [])
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return {
        major: "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in spans)
        for major, spans in found.items()
    }


def _class_body(name: str) -> str:
    if name in _POSIX:
        return _POSIX[name]
    key = name.removeprefix("Is")
    if len(key) == 1 and key in "LMNPSZC":
        return _category_ranges()[key]
    raise ValueError(f"unsupported character property \\p{{{name}}}")


def _translate(pattern: str) -> str:
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            prop = _PROPERTY.match(pattern, i)
            if prop:
                body = _class_body(prop.group(2))
                negated = prop.group(1) == "P"
                if in_class and negated:
                    raise ValueError(f"unsupported negated property inside a class: {pattern}")
                out.append(body if in_class else f"[{'^' if negated else ''}{body}]")
                i = prop.end()
                continue
            nxt = pattern[i + 1]
            out.append(r"\Z" if nxt == "z" and not in_class else ch + nxt)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            # A ']' right after '[' or '[^' is a literal in both dialects.
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            if pattern.startswith("]", i + 1):
                out.append(r"\]")
                i += 1
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        elif ch == "$" and not in_class:
            out.append(ch)
            quantifier = re.match(r"\{\d+(,\d*)?\}|[*+?]", pattern[i + 1 :])
            if quantifier:
                i += quantifier.end()
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The ``re`` equivalent of a Java pattern from a service model; use it with ``fullmatch``."""
    return re.compile(_translate(pattern))
