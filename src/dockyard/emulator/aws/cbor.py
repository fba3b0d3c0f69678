"""Just enough CBOR (RFC 8949) to answer a Smithy RPC v2 CBOR client with an error: a map of text."""

from __future__ import annotations

from collections.abc import Mapping


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | info]) + length.to_bytes(size, "big")
    raise ValueError("CBOR item too long")


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _head(3, len(raw)) + raw


def encode_text_map(values: Mapping[str, str]) -> bytes:
    """A definite-length CBOR map of text keys to text values."""
    return _head(5, len(values)) + b"".join(_text(k) + _text(v) for k, v in values.items())
