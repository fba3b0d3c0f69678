"""Request decoding and response encoding for the content types SageMaker clients send.

``decode`` turns a request body into Python/numpy values and ``encode`` turns a prediction into a
response body (``model_input.to_array`` then shapes decoded values into model input for the built-in
flavors). Decoding never unpickles (``allow_pickle=False``): request bodies are untrusted.

The per-content-type work (parsing the header, checking the charset, picking the function) is cached by
header value, so a JSON request costs one cache hit and one ``orjson`` call.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import lzma
import math
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from dockyard.serving.errors import BadRequest, HandlerError, NotAcceptable, UnsupportedMediaType
from dockyard.serving.media import parse_media_type

__all__ = [
    "ENCODABLE_TYPES",
    "JSONLINES_ALIASES",
    "SUPPORTED_CONTENT_TYPES",
    "decode",
    "encode",
]

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
OCTET_STREAM = "application/octet-stream"

SUPPORTED_CONTENT_TYPES: tuple[str, ...] = (JSON, JSONLINES, CSV, NPY, NPZ, OCTET_STREAM)
ENCODABLE_TYPES: tuple[str, ...] = (JSON, JSONLINES, CSV, NPY, OCTET_STREAM)
# Other names clients use for JSON Lines; decode and encode take them too (offer them in negotiation
# as ENCODABLE_TYPES + JSONLINES_ALIASES to answer such an Accept header in kind).
JSONLINES_ALIASES: tuple[str, ...] = ("application/x-jsonlines", "application/jsonl")
_ALIASES = dict.fromkeys(JSONLINES_ALIASES, JSONLINES)
_TEXT_TYPES = frozenset({JSON, JSONLINES, CSV})
# Bodies are at most 6 MiB, but a zip member may declare any size: refuse archives that would inflate
# past this (zipfile stops reading a member at its declared size, so the check holds).
MAX_NPZ_UNCOMPRESSED = 1 << 30
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What numpy's header parsing raises on garbage (it runs ast.literal_eval, and tokenize for old headers).
_NPY_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, EOFError, tokenize.TokenError)
# What zipfile and its decompressors raise on a damaged or hostile archive (encrypted: RuntimeError).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    ValueError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
)

_Decoder = Callable[[bytes, str, str], Any]


# --- decoding -------------------------------------------------------------------------------------------


def _text(body: bytes, ctype: str, encoding: str) -> str:
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"{ctype}: body is not valid {encoding} ({exc.reason}) at byte offset {exc.start}"
        ) from None
    except UnicodeError as exc:  # codecs such as idna raise the base class, without an offset
        raise BadRequest(f"{ctype}: body is not valid {encoding}: {exc}") from None
    # A leading byte order mark (Excel writes one) is not part of the data.
    return text[1:] if text.startswith("\ufeff") else text


def _decode_json(body: bytes, ctype: str, encoding: str) -> Any:
    if encoding == "utf-8":
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # fall through: report bad UTF-8 with its byte offset, and forgive a BOM
    text = _text(body, ctype, encoding)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"{ctype}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _decode_jsonlines(body: bytes, ctype: str, encoding: str) -> list[Any]:
    values: list[Any] = []
    # Split on "\n" only: str.splitlines would also split on U+2028, which JSON strings may hold raw.
    for number, line in enumerate(_text(body, ctype, encoding).split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{ctype}: line {number}, column {exc.colno}: {exc.msg}") from None
    if not values:
        raise BadRequest(f"{ctype}: the body holds no JSON values")
    return values


def _numeric_csv(text: str) -> np.ndarray | None:
    """Rows of plain numbers (no quotes, equal widths) in one numpy conversion, about twice as fast as
    the csv module on a 1,000-row body; None for anything else, which the csv module then reads."""
    if '"' in text or "\r" in text:
        return None
    lines = [line for line in text.split("\n") if line]
    if not lines:
        return None
    width = lines[0].count(",") + 1
    cells = ",".join(lines).split(",")
    if len(cells) != width * len(lines):
        return None
    try:
        return np.array(cells, dtype=np.float64).reshape(len(lines), width)
    except ValueError:
        return None


def _decode_csv(body: bytes, ctype: str, encoding: str) -> np.ndarray:
    text = _text(body, ctype, encoding)
    fast = _numeric_csv(text)
    if fast is not None:
        return fast
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row:  # blank line
                continue
            if rows and len(row) != len(rows[0]):
                where = f"row {len(rows) + 1}"
                if reader.line_num != len(rows) + 1:
                    where += f" (line {reader.line_num})"
                raise BadRequest(f"{ctype}: {where} has {len(row)} fields, expected {len(rows[0])}")
            rows.append(row)
    except csv.Error as exc:
        raise BadRequest(f"{ctype}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise BadRequest(f"{ctype}: the body holds no rows")
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:  # some cell is not a number
        return np.array(rows, dtype=object)


def _read_npy(data: bytes, ctype: str, what: str) -> np.ndarray:
    """Read one .npy payload, checking the header against the bytes before allocating anything.

    numpy's own reader allocates whatever shape the header declares before reading, so a 100-byte body
    could ask for gigabytes; here the declared size must equal the bytes that follow the header.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except _NPY_ERRORS as exc:
        raise BadRequest(f"{ctype}: {what} is not a readable .npy array: {exc}") from None
    if dtype.hasobject:
        raise BadRequest(f"{ctype}: {what} holds Python objects, which are never unpickled")
    if any(n < 0 for n in shape):
        raise BadRequest(f"{ctype}: {what} declares a negative dimension in shape {shape}")
    offset = stream.tell()
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - offset:
        raise BadRequest(
            f"{ctype}: {what} declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes) "
            f"but {len(data) - offset} bytes follow the header"
        )
    if dtype.itemsize == 0:
        return np.empty(shape, dtype=dtype)
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    # Copy: an array over the request's bytes would be read-only, and handlers may write to their input.
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _decode_npy(body: bytes, ctype: str, encoding: str) -> np.ndarray:
    return _read_npy(body, ctype, "the body")


def _decode_npz(body: bytes, ctype: str, encoding: str) -> dict[str, np.ndarray]:
    if not body.startswith(_ZIP_MAGIC):
        raise BadRequest(f"{ctype}: the body is not a .npz (zip) archive")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = archive.infolist()
            if sum(member.file_size for member in members) > MAX_NPZ_UNCOMPRESSED:
                raise BadRequest(f"{ctype}: the archive inflates past {MAX_NPZ_UNCOMPRESSED} bytes")
            for member in members:
                name = member.filename
                if not name.endswith(".npy"):
                    raise BadRequest(f"{ctype}: archive member {name!r} is not a .npy array")
                arrays[name[:-4]] = _read_npy(archive.read(member), ctype, f"member {name!r}")
    except _ZIP_ERRORS as exc:
        raise BadRequest(f"{ctype}: not a readable .npz archive: {exc}") from None
    return arrays


def _decode_octet_stream(body: bytes, ctype: str, encoding: str) -> bytes:
    return body


_DECODERS: dict[str, _Decoder] = {
    JSON: _decode_json,
    JSONLINES: _decode_jsonlines,
    CSV: _decode_csv,
    NPY: _decode_npy,
    NPZ: _decode_npz,
    OCTET_STREAM: _decode_octet_stream,
}


@functools.lru_cache(maxsize=128)
def _request_format(content_type: str) -> tuple[_Decoder, str, str]:
    """``(decoder, media type as sent, text encoding)`` for a Content-Type header value."""
    media = parse_media_type(content_type)
    decoder = _DECODERS.get(_ALIASES.get(media.type, media.type))
    if decoder is None:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media.type!r}; supported: {', '.join(SUPPORTED_CONTENT_TYPES)}"
        )
    encoding = "utf-8"
    charset = media.params.get("charset")
    if charset is not None and _ALIASES.get(media.type, media.type) in _TEXT_TYPES:
        try:
            encoding = codecs.lookup(charset).name
            b"a".decode(encoding)  # rejects codecs that are not text encodings, such as "hex"
        except LookupError:
            raise BadRequest(f"{media.type}: unknown charset {charset!r}") from None
        except UnicodeError:
            pass  # a text encoding in which b"a" alone is invalid (utf-16...)
    return decoder, media.type, encoding


def decode(body: bytes, content_type: str | None) -> Any:
    """Decode a request body by its Content-Type (missing: JSON).

    JSON → its value; JSON Lines → list of values; CSV → 2-D float64 array (object array of str when a
    cell is not a number); NPY → ndarray; NPZ → dict of ndarrays; octet-stream → the bytes.
    Raises UnsupportedMediaType for other types and BadRequest for bodies that do not decode.
    """
    decoder, ctype, encoding = _request_format(content_type or JSON)
    if not body:
        raise BadRequest("empty request body")
    return decoder(body, ctype, encoding)


# --- encoding -------------------------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    # orjson hands over what it cannot serialize natively: non-contiguous, object, complex... arrays.
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError  # orjson reports the type name


def _dumps(value: Any, media_type: str) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError as exc:
        raise HandlerError(f"cannot encode {type(value).__name__} as {media_type}: {exc}") from None


def _encode_json(value: Any) -> bytes:
    return _dumps(value, JSON)


def _encode_jsonlines(value: Any) -> bytes:
    rows = (
        value
        if isinstance(value, list | tuple) or (isinstance(value, np.ndarray) and value.ndim)
        else [value]
    )
    if not len(rows):
        return b""
    try:
        lines = [orjson.dumps(row, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY) for row in rows]
    except orjson.JSONEncodeError as exc:
        raise HandlerError(f"cannot encode {type(value).__name__} as {JSONLINES}: {exc}") from None
    lines.append(b"")
    return b"\n".join(lines)


_CSV_CELL = (str, int, float, type(None), np.generic)


def _encode_csv(value: Any) -> bytes:
    checked = False
    if isinstance(value, np.ndarray):
        if value.ndim > 2:
            raise HandlerError(f"cannot encode a {value.ndim}-D array as {CSV}: it needs 1-D or 2-D")
        checked = value.dtype != object  # .tolist() of a plain dtype yields only scalars
        value = value.tolist()
    rows: list[Any]
    if isinstance(value, list | tuple):
        rows = [
            r.tolist() if isinstance(r, np.ndarray) else r if isinstance(r, list | tuple) else [r]
            for r in value
        ]
    elif isinstance(value, _CSV_CELL):
        rows = [[value]]
    else:
        raise HandlerError(f"cannot encode {type(value).__name__} as {CSV}")
    if not checked:
        for row in rows:
            for cell in row:
                if not isinstance(cell, _CSV_CELL):
                    raise HandlerError(f"cannot encode a {type(cell).__name__} cell as {CSV}")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _encode_npy(value: Any) -> bytes:
    out = io.BytesIO()
    try:
        np.save(out, np.asarray(value), allow_pickle=False)
    except (ValueError, TypeError) as exc:
        raise HandlerError(f"cannot encode {type(value).__name__} as {NPY}: {exc}") from None
    return out.getvalue()


def _encode_octet_stream(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise HandlerError(
        f"{OCTET_STREAM} needs the handler to return bytes, bytearray or memoryview, "
        f"not {type(value).__name__}"
    )


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    JSON: _encode_json,
    JSONLINES: _encode_jsonlines,
    CSV: _encode_csv,
    NPY: _encode_npy,
    OCTET_STREAM: _encode_octet_stream,
}


@functools.lru_cache(maxsize=64)
def _encoder(media_type: str) -> Callable[[Any], bytes]:
    try:
        kind = parse_media_type(media_type).type
    except UnsupportedMediaType:
        kind = media_type
    encoder = _ENCODERS.get(_ALIASES.get(kind, kind))
    if encoder is None:
        raise NotAcceptable(
            f"cannot encode a response as {media_type!r}; encodable: {', '.join(ENCODABLE_TYPES)}"
        )
    return encoder


def encode(value: Any, media_type: str) -> bytes:
    """Encode a prediction as ``media_type`` (one of ENCODABLE_TYPES, parameters allowed).

    JSON Lines and CSV write one line per row (first axis). Raises HandlerError for a value the type
    cannot represent and NotAcceptable for a type with no encoder.
    """
    return _encoder(media_type)(value)
