"""Chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD uploads, checked against the worked example
of AWS's S3 documentation (sigv4-streaming: a 66,560-byte PUT in a 64 KiB, a 1 KiB and a final chunk)."""

from __future__ import annotations

import pytest

from dockyard.emulator.security.chunks import ChunkSignatureMismatch, ChunkSigner
from dockyard.emulator.security.sigv4 import SignedRequest, signing_key

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNKS = [
    (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]


def _signed(key: bytes | None) -> SignedRequest:
    return SignedRequest(
        "AKIAIOSFODNN7EXAMPLE",
        "us-east-1",
        "s3",
        "20130524T000000Z",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        SEED,
        False,
        key,
    )


def test_the_documented_chain_verifies() -> None:
    signer = ChunkSigner(_signed(signing_key(SECRET, "20130524", "us-east-1", "s3")))
    for data, signature in CHUNKS:
        signer.check(data, signature)


def test_a_changed_chunk_or_order_is_refused() -> None:
    signer = ChunkSigner(_signed(signing_key(SECRET, "20130524", "us-east-1", "s3")))
    with pytest.raises(ChunkSignatureMismatch, match="does not match the signature you provided"):
        signer.check(b"b" * 65536, CHUNKS[0][1])
    reordered = ChunkSigner(_signed(signing_key(SECRET, "20130524", "us-east-1", "s3")))
    with pytest.raises(ChunkSignatureMismatch):
        reordered.check(*CHUNKS[1])


def test_without_a_key_chunks_are_not_checked() -> None:
    signer = ChunkSigner(_signed(None))  # --insecure-any-credentials
    signer.check(b"anything", "0" * 64)
