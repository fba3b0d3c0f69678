"""List* semantics shared by every resource: filters, sorting, and pages with an opaque NextToken.

Pages are keyset-based: the token carries the sort key of the last item returned, so deleting items
between pages (a common "list, then delete each" loop) neither skips nor repeats any. The token also
carries the sort it was made for; using it with another sort is refused, as SageMaker does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dockyard.emulator.errors import ValidationException

T = TypeVar("T")
Key = tuple[str | float | int, ...]

DEFAULT_MAX_RESULTS = 10  # SageMaker's List* default page size


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


@dataclass(frozen=True)
class Listing(Generic[T]):
    """How one resource kind is listed: its sort keys (SortBy value -> key) and filterable times."""

    sort_keys: Mapping[str, Callable[[T], Key]]
    default_sort: str
    name: Callable[[T], str]
    created: Callable[[T], float]
    modified: Callable[[T], float] | None = None
    status: Callable[[T], str] | None = None

    def page(self, items: Sequence[T], params: Mapping[str, Any]) -> Page[T]:
        selected = [item for item in items if self._matches(item, params)]
        sort_by = params.get("SortBy") or self.default_sort
        descending = (params.get("SortOrder") or "Descending") == "Descending"
        key = self.sort_keys[sort_by]
        selected.sort(key=key, reverse=descending)
        fingerprint = f"{sort_by}:{'D' if descending else 'A'}"
        token = params.get("NextToken")
        if token:
            after = _decode(token, fingerprint)
            selected = [item for item in selected if (key(item) < after if descending else key(item) > after)]
        limit = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
        shown = selected[:limit]
        more = len(selected) > limit
        return Page(shown, _encode(key(shown[-1]), fingerprint) if more else None)

    def _matches(self, item: T, params: Mapping[str, Any]) -> bool:
        contains = params.get("NameContains")
        if contains and contains.lower() not in self.name(item).lower():
            return False
        if not _within(self.created(item), params.get("CreationTimeAfter"), params.get("CreationTimeBefore")):
            return False
        if self.modified is not None and not _within(
            self.modified(item), params.get("LastModifiedTimeAfter"), params.get("LastModifiedTimeBefore")
        ):
            return False
        wanted = params.get("StatusEquals")
        return not (wanted and self.status is not None and self.status(item) != wanted)


def page_of(items: Sequence[T], params: Mapping[str, Any]) -> Page[T]:
    """A page of an already-ordered sequence (ListTags), by position."""
    start = 0
    token = params.get("NextToken")
    if token:
        (start,) = (int(part) for part in _decode(token, "position"))
    limit = int(params.get("MaxResults") or len(items) or 1)
    end = start + limit
    return Page(list(items[start:end]), _encode((end,), "position") if end < len(items) else None)


def epoch(value: dt.datetime | float | int) -> float:
    """A timestamp parameter as epoch seconds (the protocol gives datetimes)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return float(value)


def _within(moment: float, after: Any, before: Any) -> bool:
    if after is not None and not moment > epoch(after):
        return False
    return before is None or moment < epoch(before)


def _encode(key: Key, fingerprint: str) -> str:
    raw = json.dumps({"k": list(key), "s": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, fingerprint: str) -> Key:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = tuple(data["k"])
        valid = data["s"] == fingerprint and all(isinstance(part, str | float | int) for part in key)
    except (ValueError, TypeError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise ValidationException(f'Invalid pagination token "{token}" for this request.')
    return key
