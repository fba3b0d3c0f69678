"""Chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` uploads (S3's aws-chunked encoding).

Each chunk of such a body is ``<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n``; its signature chains
from the previous one (the first from the request's own signature). The S3 service decodes the chunks
as it streams them and asks a :class:`ChunkSigner` for each expected signature; the middleware has
already checked the seed signature and gives the signing key in the scope's ``SignedRequest``.
"""

from __future__ import annotations

import hashlib
import hmac

from dockyard.emulator.security.sigv4 import EMPTY_SHA256, SignedRequest

CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"


class ChunkSignatureMismatch(Exception):
    """A chunk's signature is not the one its data and the chain give (S3: SignatureDoesNotMatch)."""


class ChunkSigner:
    """Expected signatures of one request's chunks, in order."""

    def __init__(self, signed: SignedRequest) -> None:
        self._key = signed.signing_key
        self._timestamp = signed.timestamp
        self._scope = signed.credential_scope
        self._previous = signed.signature

    def check(self, data: bytes, signature: str) -> None:
        """Check the next chunk (the final, empty chunk too); raise when its signature differs."""
        to_sign = "\n".join(
            [
                CHUNK_ALGORITHM,
                self._timestamp,
                self._scope,
                self._previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            ]
        )
        if self._key is not None:  # None: signatures are not checked (--insecure-any-credentials)
            expected = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, signature.lower()):
                raise ChunkSignatureMismatch(
                    "The request signature we calculated does not match the signature you provided."
                )
        self._previous = signature.lower()
