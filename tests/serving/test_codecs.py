"""Request decoding, response encoding and model-input shaping."""

from __future__ import annotations

import contextlib
import io
import struct
import zipfile
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dockyard.serving import codecs
from dockyard.serving.codecs import (
    ENCODABLE_TYPES,
    JSONLINES_ALIASES,
    SUPPORTED_CONTENT_TYPES,
    decode,
    encode,
)
from dockyard.serving.errors import BadRequest, HandlerError, NotAcceptable, UnsupportedMediaType
from dockyard.serving.model_input import to_array

SHAPES = (
    'accepted shapes: rows of numbers [[1, 2], [3, 4]], one row [1, 2], {"instances": rows}, '
    '{"inputs": rows} or {"inputs": {"name": array, ...}}, or a CSV, NPY or NPZ body'
)


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def npz(compress: bool = False, **arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    if compress:
        np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    else:
        np.savez(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def bad_request(body: bytes, content_type: str | None) -> str:
    with pytest.raises(BadRequest) as excinfo:
        decode(body, content_type)
    assert excinfo.value.status == 400
    return excinfo.value.message


def test_type_lists() -> None:
    assert SUPPORTED_CONTENT_TYPES == (
        "application/json",
        "application/jsonlines",
        "text/csv",
        "application/x-npy",
        "application/x-npz",
        "application/octet-stream",
    )
    assert ENCODABLE_TYPES[0] == "application/json"
    assert set(ENCODABLE_TYPES) == set(SUPPORTED_CONTENT_TYPES) - {"application/x-npz"}
    assert JSONLINES_ALIASES == ("application/x-jsonlines", "application/jsonl")


# --- decode: content types ------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "application/json", "Application/JSON; charset=UTF-8"])
def test_decode_json(content_type: str | None) -> None:
    assert decode(b'{"instances": [[1, 2.5]]}', content_type) == {"instances": [[1, 2.5]]}


def test_decode_unknown_and_malformed_content_types() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        decode(b"<x/>", "text/xml; charset=utf-8")
    assert excinfo.value.message == (
        "unsupported Content-Type 'text/xml'; supported: application/json, application/jsonlines, "
        "text/csv, application/x-npy, application/x-npz, application/octet-stream"
    )
    assert excinfo.value.status == 415
    with pytest.raises(UnsupportedMediaType, match=r"^malformed media type 'json': expected 'type/subtype'$"):
        decode(b"{}", "json")


def test_empty_body() -> None:
    for content_type in (*SUPPORTED_CONTENT_TYPES, None):
        assert bad_request(b"", content_type) == "empty request body"


@pytest.mark.parametrize(
    ("charset", "message"),
    [("nope", "text/csv: unknown charset 'nope'"), ("hex", "text/csv: unknown charset 'hex'")],
)
def test_bad_charset(charset: str, message: str) -> None:
    assert bad_request(b"1,2", f"text/csv; charset={charset}") == message


def test_charset_is_ignored_for_binary_types() -> None:
    assert decode(b"\x00\x01", "application/octet-stream; charset=nope") == b"\x00\x01"


# --- JSON -----------------------------------------------------------------------------------------------


def test_json_errors_name_line_and_column() -> None:
    assert bad_request(b"[1,\n 2,,]", None) == (
        "application/json: invalid JSON at line 2, column 4: unexpected character, expected a JSON value"
    )
    assert bad_request(b"   ", "application/json") == (
        "application/json: invalid JSON at line 1, column 1: input data is empty"
    )


def test_json_invalid_utf8_names_the_byte_offset() -> None:
    assert bad_request(b'["ab\xff"]', None) == (
        "application/json: body is not valid utf-8 (invalid start byte) at byte offset 4"
    )


def test_json_charsets_and_bom() -> None:
    assert decode('["café"]'.encode("latin-1"), "application/json; charset=ISO-8859-1") == ["café"]
    assert decode('["café"]'.encode("utf-16"), "application/json; charset=utf-16") == ["café"]
    assert decode(b'\xef\xbb\xbf{"a": 1}', "application/json") == {"a": 1}
    assert bad_request(b"\xff\xfe[\x00", "application/json; charset=utf-16") == (
        "application/json: invalid JSON at line 1, column 2: unexpected end of data"
    )
    assert bad_request(b"\xff\xfe[", "application/json; charset=utf-16") == (
        "application/json: body is not valid utf-16 (truncated data) at byte offset 2"
    )


# --- JSON Lines -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/jsonlines", "application/x-jsonlines", "application/jsonl"]
)
def test_decode_jsonlines(content_type: str) -> None:
    body = b'[1, 2]\n\n{"a": "x\xe2\x80\xa8y"}\r\n  \n3\n'  # U+2028 inside a string is not a line break
    assert decode(body, content_type) == [[1, 2], {"a": "x\u2028y"}, 3]


def test_jsonlines_errors() -> None:
    assert bad_request(b'[1]\n\n{"a":\n', "application/jsonl") == (
        "application/jsonl: line 3, column 6: unexpected end of data"
    )
    assert (
        bad_request(b"\n \r\n", "application/jsonlines")
        == "application/jsonlines: the body holds no JSON values"
    )
    assert bad_request(b"[1]\n\xc3(", "application/jsonlines") == (
        "application/jsonlines: body is not valid utf-8 (invalid continuation byte) at byte offset 4"
    )


# --- CSV ------------------------------------------------------------------------------------------------


def test_decode_csv_numbers() -> None:
    array = decode(b"1,2.5,-3e2\r\n4, nan ,inf\n", "text/csv")
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, [[1, 2.5, -300], [4, np.nan, np.inf]])


def test_decode_csv_strings_and_quoting() -> None:
    body = b'1,"a, b"\n2,"multi\nline"\n3,"say ""hi"""\n\n4,\n'
    array = decode(body, "text/csv")
    assert array.dtype == object
    assert array.tolist() == [["1", "a, b"], ["2", "multi\nline"], ["3", 'say "hi"'], ["4", ""]]


def test_decode_csv_charset_and_bom() -> None:
    assert decode("é,1\n".encode("cp1252"), "text/csv; charset=windows-1252").tolist() == [["é", "1"]]
    np.testing.assert_array_equal(decode(b"\xef\xbb\xbf1,2\n", "text/csv"), [[1.0, 2.0]])


def test_csv_errors() -> None:
    assert bad_request(b"1,2,3,4\n5,6,7,8\n1,2\n", "text/csv") == "text/csv: row 3 has 2 fields, expected 4"
    assert bad_request(b"1,2\n\n3\n", "text/csv") == "text/csv: row 2 (line 3) has 1 fields, expected 2"
    assert bad_request(b'1,"2\n', "text/csv") == "text/csv: line 1: unexpected end of data"
    assert bad_request(b'1,"2"x\n', "text/csv") == "text/csv: line 1: ',' expected after '\"'"
    assert bad_request(b"\n\r\n", "text/csv") == "text/csv: the body holds no rows"
    assert bad_request(b"1,2\n\x80", "text/csv") == (
        "text/csv: body is not valid utf-8 (invalid start byte) at byte offset 4"
    )


# --- NPY / NPZ / octet-stream ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array(3.5),
        np.zeros((0, 3), dtype=np.int16),
        np.array(["a", "bc"]),
        np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
        np.zeros((2, 0), dtype="S0"),
    ],
)
def test_decode_npy(array: np.ndarray) -> None:
    decoded = decode(npy(array), "application/x-npy")
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    assert decoded.flags.writeable


def test_npy_errors() -> None:
    body = npy(np.arange(4.0))
    assert bad_request(b"nope", "application/x-npy") == (
        "application/x-npy: the body is not a readable .npy array: "
        "EOF: reading magic string, expected 8 bytes got 4"
    )
    assert bad_request(body[:-1], "application/x-npy") == (
        "application/x-npy: the body declares shape (4,) of float64 (32 bytes) but 31 bytes follow the header"
    )
    assert bad_request(body + b"xx", "application/x-npy") == (
        "application/x-npy: the body declares shape (4,) of float64 (32 bytes) but 34 bytes follow the header"
    )
    assert bad_request(npy(np.array([1, "a"], dtype=object), allow_pickle=True), "application/x-npy") == (
        "application/x-npy: the body holds Python objects, which are never unpickled"
    )
    assert bad_request(npz(x=np.ones(2)), "application/x-npy").startswith(
        "application/x-npy: the body is not a readable .npy array: the magic string is not correct"
    )


def _npy_with_header(header: str, data: bytes = b"") -> bytes:
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def test_npy_header_is_checked_before_allocating() -> None:
    huge = _npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (10**12,), }")
    assert bad_request(huge, "application/x-npy").startswith("application/x-npy: the body is not a readable")
    huge = _npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", b"x" * 8)
    assert bad_request(huge, "application/x-npy") == (
        "application/x-npy: the body declares shape (1000000000000,) of float64 (8000000000000 bytes) "
        "but 8 bytes follow the header"
    )
    negative = _npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }")
    assert bad_request(negative, "application/x-npy") == (
        "application/x-npy: the body declares a negative dimension in shape (-1, 2)"
    )
    version = b"\x93NUMPY\x03\x00" + npy(np.ones(1))[8:]
    assert bad_request(version, "application/x-npy") == (
        "application/x-npy: the body is not a readable .npy array: unsupported .npy format version 3.0"
    )


@pytest.mark.parametrize("compress", [False, True])
def test_decode_npz(compress: bool) -> None:
    decoded = decode(npz(compress, x=np.arange(3.0), y=np.eye(2, dtype=np.int8)), "application/x-npz")
    assert sorted(decoded) == ["x", "y"]
    np.testing.assert_array_equal(decoded["x"], [0.0, 1.0, 2.0])
    assert decoded["y"].dtype == np.int8


def _zip(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_npz_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        bad_request(b"not a zip", "application/x-npz")
        == "application/x-npz: the body is not a .npz (zip) archive"
    )
    assert bad_request(_zip(**{"x.npy": npy(np.ones(2)), "notes.txt": b"hi"}), "application/x-npz") == (
        "application/x-npz: archive member 'notes.txt' is not a .npy array"
    )
    assert bad_request(_zip(**{"x.npy": b"garbage!"}), "application/x-npz") == (
        "application/x-npz: member 'x.npy' is not a readable .npy array: the magic string is not correct; "
        "expected b'\\x93NUMPY', got b'garbag'"
    )
    objects = npy(np.array([None]), allow_pickle=True)
    assert bad_request(_zip(**{"o.npy": objects}), "application/x-npz") == (
        "application/x-npz: member 'o.npy' holds Python objects, which are never unpickled"
    )
    body = npz(True, x=np.zeros(1000))
    assert bad_request(body[:-30], "application/x-npz").startswith(
        "application/x-npz: not a readable .npz archive: "
    )
    monkeypatch.setattr(codecs, "MAX_NPZ_UNCOMPRESSED", 100)
    assert bad_request(body, "application/x-npz") == "application/x-npz: the archive inflates past 100 bytes"


def test_decode_octet_stream() -> None:
    body = bytes(range(256))
    assert decode(body, "application/octet-stream") is body


@pytest.mark.parametrize("content_type", SUPPORTED_CONTENT_TYPES)
@given(body=st.binary(min_size=1, max_size=300))
def test_decode_garbage_is_a_bad_request(content_type: str, body: bytes) -> None:
    with contextlib.suppress(BadRequest):
        decode(body, content_type)


# --- encode ---------------------------------------------------------------------------------------------


def test_encode_json() -> None:
    matrix = np.arange(12.0).reshape(3, 4)
    assert encode(matrix, "application/json") == b"[[0.0,1.0,2.0,3.0],[4.0,5.0,6.0,7.0],[8.0,9.0,10.0,11.0]]"
    assert encode(matrix[:, ::2], "application/json") == b"[[0.0,2.0],[4.0,6.0],[8.0,10.0]]"  # non-contiguous
    assert encode(np.array([0.5], dtype=np.float16), "application/json") == b"[0.5]"
    assert encode(np.array(["a", "b"]), "application/json") == b'["a","b"]'
    assert encode(np.array([1, "x", None], dtype=object), "application/json") == b'[1,"x",null]'
    assert encode({"p": np.int64(3), "q": np.float32(0.5), "r": [np.bool_(True)]}, "application/json") == (
        b'{"p":3,"q":0.5,"r":[true]}'
    )
    assert encode({"predictions": [1, 2]}, "application/json; charset=utf-8") == b'{"predictions":[1,2]}'


def test_encode_json_errors() -> None:
    with pytest.raises(HandlerError) as excinfo:
        encode({"a": object()}, "application/json")
    assert (
        excinfo.value.message
        == "cannot encode dict as application/json: Type is not JSON serializable: object"
    )
    with pytest.raises(HandlerError, match=r"^cannot encode ndarray as application/json: .*complex$"):
        encode(np.array([1j]), "application/json")
    with pytest.raises(HandlerError, match=r"^cannot encode bytes as application/json: .*bytes$"):
        encode(b"raw", "application/json")


def test_encode_jsonlines() -> None:
    assert encode(np.array([[1, 2], [3, 4]]), "application/jsonlines") == b"[1,2]\n[3,4]\n"
    assert encode(np.array([1.5, 2.5]), "application/jsonl") == b"1.5\n2.5\n"
    assert encode([{"a": 1}, {"a": 2}], "application/x-jsonlines") == b'{"a":1}\n{"a":2}\n'
    assert encode({"a": 1}, "application/jsonlines") == b'{"a":1}\n'
    assert encode(np.array(7), "application/jsonlines") == b"7\n"
    assert encode([], "application/jsonlines") == b""
    with pytest.raises(HandlerError) as excinfo:
        encode([1, 1j], "application/jsonlines")
    assert (
        excinfo.value.message
        == "cannot encode list as application/jsonlines: Type is not JSON serializable: complex"
    )


def test_encode_csv() -> None:
    assert encode(np.array([[1.0, 0.1], [2.5, np.nan]]), "text/csv") == b"1.0,0.1\n2.5,nan\n"
    assert encode(np.array([1, 2, 3]), "text/csv") == b"1\n2\n3\n"
    assert encode([["a,b", 'say "hi"'], ["multi\nline", None]], "text/csv") == (
        b'"a,b","say ""hi"""\n"multi\nline",\n'
    )
    assert encode([0.25, "x"], "text/csv") == b"0.25\nx\n"
    assert encode([np.array([1, 2]), (3, 4)], "text/csv") == b"1,2\n3,4\n"
    assert encode(np.float64(2.0), "text/csv") == b"2.0\n"
    assert encode(np.array(5), "text/csv") == b"5\n"
    assert encode("text", "text/csv") == b"text\n"
    assert encode(np.zeros((0, 2)), "text/csv") == b""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((2, 2, 2)), "cannot encode a 3-D array as text/csv: it needs 1-D or 2-D"),
        ({"a": 1}, "cannot encode dict as text/csv"),
        ([[1, [2]]], "cannot encode a list cell as text/csv"),
        (np.array([{"a": 1}], dtype=object), "cannot encode a dict cell as text/csv"),
        ([b"raw"], "cannot encode a bytes cell as text/csv"),
    ],
)
def test_encode_csv_errors(value: Any, message: str) -> None:
    with pytest.raises(HandlerError) as excinfo:
        encode(value, "text/csv")
    assert excinfo.value.message == message


def test_encode_npy() -> None:
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert encode(array, "application/x-npy") == npy(array)
    np.testing.assert_array_equal(
        decode(encode([[1.5, 2.5]], "application/x-npy"), "application/x-npy"), [[1.5, 2.5]]
    )
    with pytest.raises(HandlerError) as excinfo:
        encode({"a": 1}, "application/x-npy")
    assert excinfo.value.message == (
        "cannot encode dict as application/x-npy: Object arrays cannot be saved when allow_pickle=False"
    )
    with pytest.raises(
        HandlerError, match=r"^cannot encode list as application/x-npy: setting an array element"
    ):
        encode([1, [2, 3]], "application/x-npy")


def test_encode_octet_stream() -> None:
    assert encode(b"abc", "application/octet-stream") == b"abc"
    assert encode(bytearray(b"abc"), "application/octet-stream") == b"abc"
    assert encode(memoryview(b"abc"), "application/octet-stream") == b"abc"
    with pytest.raises(HandlerError) as excinfo:
        encode("abc", "application/octet-stream")
    assert excinfo.value.message == (
        "application/octet-stream needs the handler to return bytes, bytearray or memoryview, not str"
    )


@pytest.mark.parametrize("media_type", ["image/png", "application/x-npz", "not a type"])
def test_encode_unknown_type(media_type: str) -> None:
    with pytest.raises(NotAcceptable) as excinfo:
        encode([1], media_type)
    assert excinfo.value.message == (
        f"cannot encode a response as {media_type!r}; encodable: application/json, application/jsonlines, "
        "text/csv, application/x-npy, application/octet-stream"
    )


# --- round trips ----------------------------------------------------------------------------------------

_FINITE = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
    elements=st.floats(allow_nan=False, allow_infinity=False),
)
_ANY_FLOAT = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=st.floats()
)


@given(array=_FINITE)
def test_json_round_trip(array: np.ndarray) -> None:
    decoded = to_array(decode(encode(array, "application/json"), "application/json"))
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, array)


@given(array=_FINITE)
def test_jsonlines_round_trip(array: np.ndarray) -> None:
    decoded = decode(encode(array, "application/jsonlines"), "application/jsonlines")
    np.testing.assert_array_equal(np.array(decoded, dtype=np.float64), array)


@given(array=_ANY_FLOAT)
def test_csv_round_trip(array: np.ndarray) -> None:
    decoded = decode(encode(array, "text/csv"), "text/csv")
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, array)


@given(array=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats()))
def test_csv_round_trip_1d_is_a_column(array: np.ndarray) -> None:
    np.testing.assert_array_equal(decode(encode(array, "text/csv"), "text/csv"), array.reshape(-1, 1))


@given(
    array=hnp.arrays(
        st.one_of(
            hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(), hnp.unicode_string_dtypes()
        ),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_npy_round_trip(array: np.ndarray) -> None:
    decoded = decode(encode(array, "application/x-npy"), "application/x-npy")
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3\n4,5,6\n",
        "1.5,-2e3,nan\n\n inf ,4,5\n",
        "7\n8\n9",
        "1,2\r\n3,4\r\n",  # the csv module's line endings
        '"1",2\n3,4\n',  # quoted
        "1,2\n3\n",  # ragged
        "1,,3\n",  # an empty cell
        "a,b\n1,2\n",  # not numbers
    ],
)
def test_the_numeric_csv_fast_path_reads_what_the_csv_module_reads(text: str) -> None:
    import csv

    fast = codecs._numeric_csv(text)
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    try:
        slow = np.array(rows, dtype=np.float64)
    except ValueError:
        assert fast is None
        return
    if fast is not None:
        np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(decode(text.encode(), "text/csv"), slow)
