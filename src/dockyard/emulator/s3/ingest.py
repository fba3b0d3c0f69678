"""A request body on its way to disk: decoded, checksummed and verified while it streams.

Bodies come plain or ``aws-chunked`` (``x-amz-content-sha256: STREAMING-...``: hex-sized chunks, each with
an optional ``;chunk-signature=``, then trailers such as ``x-amz-checksum-crc32:VALUE``). Either way the
bytes go to a temporary file in batches of :data:`BATCH` bytes, hashed and written on a worker thread
while the next batch arrives, so memory stays at two batches whatever the object's size. The MD5 (the
ETag), ``Content-MD5``, ``x-amz-content-sha256`` and the ``x-amz-checksum-*`` value (from a header or a
trailer) are checked at the end; any mismatch, a short body or a full disk deletes the temporary file.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.emulator.s3 import checksums
from dockyard.emulator.s3.blobs import Blobs, disk_full
from dockyard.emulator.s3.errors import (
    BadDigest,
    ContentSha256Mismatch,
    EntityTooLarge,
    IncompleteBody,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
BATCH = 1 << 20
MAX_SIZE = 5 * 1024**3  # S3's limit for one PUT and for one part
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_LINE = 4096  # a chunk-size line (with its signature) or a trailer line
_MAX_TRAILERS = 16 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    temporary: Path
    size: int
    md5: str  # hex
    checksum: tuple[str, str] | None  # (algorithm, base64 value), verified when one was sent


@dataclass
class _Plan:
    chunked: bool
    declared: int | None  # the decoded length the client announced
    algorithm: str | None
    expected_checksum: str | None  # from a header; a trailer fills it in at the end
    trailer: str | None  # the x-amz-checksum-* header name the trailer will carry
    content_md5: bytes | None
    content_sha256: str | None


def _plan(headers: Mapping[str, str]) -> _Plan:
    content_sha = headers.get("x-amz-content-sha256", "")
    chunked = content_sha.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", "")
    length = headers.get("x-amz-decoded-content-length") if chunked else headers.get("content-length")
    declared = None
    if length is not None:
        if not length.isdigit():
            raise InvalidArgument(f"The content length {length!r} is not a number")
        declared = int(length)
        if declared > MAX_SIZE:
            raise EntityTooLarge(
                f"Your proposed upload of {declared} bytes exceeds the maximum allowed object size "
                f"({MAX_SIZE} bytes)."
            )
    algorithm = expected = trailer = None
    sent = [name for name in checksums.ALGORITHMS if f"x-amz-checksum-{name}" in headers]
    if len(sent) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    if sent:
        algorithm = sent[0]
        expected = headers[f"x-amz-checksum-{algorithm}"]
    elif "x-amz-trailer" in headers:
        trailer = headers["x-amz-trailer"].strip().lower()
        algorithm = trailer.removeprefix("x-amz-checksum-")
        if algorithm not in checksums.ALGORITHMS:
            raise InvalidRequest(
                f"The value specified in the x-amz-trailer header is not supported: {trailer}"
            )
    elif headers.get("x-amz-sdk-checksum-algorithm", "").lower() in checksums.ALGORITHMS:
        algorithm = headers["x-amz-sdk-checksum-algorithm"].lower()
    content_md5 = None
    if "content-md5" in headers:
        try:
            content_md5 = base64.b64decode(headers["content-md5"], validate=True)
        except (binascii.Error, ValueError):
            content_md5 = b""
        if len(content_md5) != 16:
            raise InvalidDigest("The Content-MD5 you specified was invalid.")
    return _Plan(
        chunked=chunked,
        declared=declared,
        algorithm=algorithm,
        expected_checksum=expected,
        trailer=trailer,
        content_md5=content_md5,
        content_sha256=content_sha if _HEX64.fullmatch(content_sha) else None,
    )


class _ChunkDecoder:
    """``aws-chunked`` framing, fed piece by piece; yields payload bytes and collects trailers."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._remaining = 0  # payload bytes of the current chunk still to come
        self._state = "size"  # size -> data -> crlf -> size ... -> trailers -> done
        self.trailers: dict[str, str] = {}

    def feed(self, piece: bytes) -> list[bytes]:
        self._buffer += piece
        out: list[bytes] = []
        while self._buffer:
            if self._state == "data":
                take = min(self._remaining, len(self._buffer))
                out.append(bytes(self._buffer[:take]))
                del self._buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "crlf"
            elif self._state == "crlf":
                if len(self._buffer) < 2:
                    break
                if self._buffer[:2] != b"\r\n":
                    raise IncompleteBody("The aws-chunked body has a chunk longer than its declared size")
                del self._buffer[:2]
                self._state = "size"
            elif self._state == "size":
                line = self._line(_MAX_LINE)
                if line is None:
                    break
                size_text = line.split(b";", 1)[0].strip()
                try:
                    self._remaining = int(size_text, 16)
                except ValueError:
                    raise IncompleteBody(
                        f"The aws-chunked body has a bad chunk size {size_text[:20]!r}"
                    ) from None
                self._state = "data" if self._remaining else "trailers"
            elif self._state == "trailers":
                line = self._line(_MAX_LINE)
                if line is None:
                    break
                if not line.strip():
                    self._state = "done"
                else:
                    self._trailer(line)
            else:  # done: anything after the final CRLF is ignored, as S3 does
                self._buffer.clear()
        return out

    def finish(self) -> None:
        if self._state == "trailers" and self._buffer.strip():  # trailers without the final blank line
            for line in bytes(self._buffer).splitlines():
                if line.strip():
                    self._trailer(line)
            self._state = "done"
        if self._state == "trailers" and not self._buffer:
            self._state = "done"
        if self._state != "done":
            raise IncompleteBody("The aws-chunked body ended before its final chunk")

    def _line(self, limit: int) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > limit:
                raise IncompleteBody("The aws-chunked body has a line longer than 4096 bytes")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _trailer(self, line: bytes) -> None:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or sum(len(k) + len(v) for k, v in self.trailers.items()) > _MAX_TRAILERS:
            raise IncompleteBody("The aws-chunked body has a malformed trailer")
        self.trailers[name.strip().lower()] = value.strip()


class _Sink:
    """Hashes and writes batches (on a worker thread: hashlib, zlib and file writes release the GIL)."""

    def __init__(self, file: BinaryIO, plan: _Plan) -> None:
        self.file = file
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.checksum = checksums.new(plan.algorithm) if plan.algorithm else None
        self.sha256 = hashlib.sha256() if plan.content_sha256 else None

    def absorb(self, pieces: list[bytes]) -> None:
        # Piece by piece, as received: joining them first would copy every byte once more.
        for data in pieces:
            self.md5.update(data)
            if self.checksum is not None:
                self.checksum.update(data)
            if self.sha256 is not None:
                self.sha256.update(data)
            self.size += len(data)
        self.file.writelines(pieces)


class _Body:
    """The request body's messages; remembers whether the last one has been read."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.finished = False

    async def pieces(self) -> AsyncIterator[bytes]:
        while not self.finished:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.finished = True
                raise IncompleteBody("The client disconnected before sending its whole request body")
            piece: bytes = message.get("body", b"")
            self.finished = not message.get("more_body", False)
            if piece:
                yield piece

    async def drain(self, limit: int = DRAIN_LIMIT) -> None:
        """Read and drop the rest (up to ``limit`` bytes), so that a client still sending reads the
        error response; beyond that the connection is closed after the response instead."""
        read = 0
        try:
            async for piece in self.pieces():
                read += len(piece)
                if read > limit:
                    return
        except IncompleteBody:
            pass


async def receive_body(receive: Receive, headers: Mapping[str, str], blobs: Blobs) -> Received:
    """Stream a request body into a temporary file under ``blobs``; raise S3's error (and keep nothing)
    when it is short, too large, or does not match a digest or checksum sent with it."""
    body = _Body(receive)
    # Refused before any of the body is read: the response goes out at once (a client waiting on
    # "Expect: 100-continue" never sends the body) and the server closes the connection after it.
    plan = _plan(headers)
    try:
        temporary, file = blobs.temporary()
    except OSError as exc:
        full = disk_full(exc, blobs.root)
        if full is not None:
            raise full from None
        raise
    try:
        with file:
            sink = _Sink(file, plan)
            await _stream(body, plan, sink)
        return _verify(plan, sink, temporary)
    except OSError as exc:
        blobs.discard(temporary)
        await body.drain()
        full = disk_full(exc, blobs.root)
        if full is not None:
            raise full from None
        raise
    except BaseException:
        blobs.discard(temporary)
        await body.drain()
        raise


async def _stream(body: _Body, plan: _Plan, sink: _Sink) -> None:
    decoder = _ChunkDecoder() if plan.chunked else None
    batch: list[bytes] = []
    batched = 0
    pending: asyncio.Future[None] | None = None
    limit = MAX_SIZE if plan.declared is None else plan.declared
    received = 0
    try:
        async for piece in body.pieces():
            for data in decoder.feed(piece) if decoder is not None else (piece,):
                received += len(data)
                if received > limit:
                    raise IncompleteBody("The request body is longer than its declared length")
                batch.append(data)
                batched += len(data)
            if batched >= BATCH:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(sink.absorb, batch))
                batch, batched = [], 0
        if decoder is not None:
            decoder.finish()
            if plan.trailer is not None:
                plan.expected_checksum = decoder.trailers.get(plan.trailer)
                if plan.expected_checksum is None:
                    raise InvalidRequest(
                        f"The request announced the trailer {plan.trailer} but did not send it"
                    )
    finally:
        if pending is not None:
            await pending
    if batch:
        await asyncio.to_thread(sink.absorb, batch)
    if plan.declared is not None and sink.size != plan.declared:
        raise IncompleteBody(
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        )


def _verify(plan: _Plan, sink: _Sink, temporary: Path) -> Received:
    md5 = sink.md5.digest()
    if plan.content_md5 is not None and md5 != plan.content_md5:
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    if sink.sha256 is not None and sink.sha256.hexdigest() != plan.content_sha256:
        raise ContentSha256Mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    checksum = None
    if sink.checksum is not None and plan.algorithm is not None:
        value = checksums.encoded(sink.checksum)
        if plan.expected_checksum is not None and plan.expected_checksum != value:
            raise BadDigest(
                f"The {plan.algorithm.upper()} you specified did not match the calculated checksum."
            )
        checksum = (plan.algorithm, value)
    return Received(temporary, sink.size, md5.hex(), checksum)
