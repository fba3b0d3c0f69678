"""The checksums S3 takes with an object (``x-amz-checksum-<algorithm>``), each as base64 of its digest.

CRC32, SHA-1 and SHA-256 come from zlib and hashlib (native speed). CRC32C and CRC64NVME have no native
implementation in the standard library (botocore needs awscrt for them): the table-driven versions here
are correct but slow, which only a client that sends them (not boto3 without awscrt) pays.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


class Checksum(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def _table(polynomial: int) -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ polynomial if value & 1 else value >> 1
        table.append(value)
    return table


class _ReflectedCrc:
    """A reflected CRC with all-ones initial value and final XOR (CRC32C, CRC64NVME)."""

    def __init__(self, table: list[int], width: int) -> None:
        self._table = table
        self._mask = (1 << width) - 1
        self._width = width
        self._value = self._mask

    def update(self, data: bytes, /) -> None:
        table, value = self._table, self._value
        for byte in data:
            value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
        self._value = value

    def digest(self) -> bytes:
        return (self._value ^ self._mask).to_bytes(self._width // 8, "big")


_CRC32C = _table(0x82F63B78)
_CRC64NVME = _table(0x9A6C9329AC4BC9B5)


def new(algorithm: str) -> Checksum:
    """A fresh checksum for one of :data:`ALGORITHMS` (lower-case)."""
    if algorithm == "crc32":
        return _Crc32()
    if algorithm == "crc32c":
        return _ReflectedCrc(_CRC32C, 32)
    if algorithm == "crc64nvme":
        return _ReflectedCrc(_CRC64NVME, 64)
    return hashlib.new(algorithm)


def encoded(checksum: Checksum) -> str:
    return base64.b64encode(checksum.digest()).decode("ascii")
