"""CloudWatch Logs' view of the endpoint containers' log files that the emulator's fleet writes.

The fleet appends each container's output to ``<state>/logs/[<account>/<region>/]<endpoint>/<variant>/
<instance>.log``. Here each endpoint is the log group ``/aws/sagemaker/Endpoints/<endpoint>`` and each
file the stream ``<variant>/<instance>``, as SageMaker names them. A line's time is the one it carries
(dockyard's JSON records have ``ts``; other servers start lines with an ISO 8601 or ``[date]`` stamp);
lines without one take the time of the line before (the first lines, of the first stamped line; a file
with none, of its last write).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
_ISO = re.compile(r"\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?\]?")
# Access-log stamps anywhere in the line: "[02/Dec/2026 14:30:00]" (Python's http.server) or
# "[02/Dec/2026:14:30:00 +0000]" (nginx, gunicorn).
_CLF = re.compile(r"\[(\d{2})/([A-Z][a-z]{2})/(\d{4})[: ](\d{2}):(\d{2}):(\d{2})(?: ([+-]\d{4}))?\]")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}
_JSON_TIME_KEYS = ("ts", "timestamp", "time", "asctime")
_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Stream:
    group: str
    name: str  # <variant>/<instance>
    path: Path


@dataclass(frozen=True)
class Event:
    timestamp: int  # epoch milliseconds
    message: str
    stream: str
    line: int  # 0-based line number in the stream: with the stream, a stable id


def _millis(stamp: dt.datetime) -> int:
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def line_time(line: str) -> int | None:
    """The epoch milliseconds a log line carries, if any."""
    if line.startswith("{"):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            for key in _JSON_TIME_KEYS:
                value = record.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return int(value * 1000) if value < 1e11 else int(value)
                if isinstance(value, str) and (found := _ISO.match(value)) is not None:
                    return _iso(found)
    found = _ISO.match(line)
    if found is not None:
        return _iso(found)
    access = _CLF.search(line)
    return _access_time(access) if access is not None else None


def _access_time(found: re.Match[str]) -> int | None:
    day, month, year, hour, minute, second, zone = found.groups()
    if month not in _MONTHS:
        return None
    offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) if zone else dt.timedelta()
    tz = dt.timezone(-offset if zone and zone[0] == "-" else offset)
    stamp = dt.datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=tz)
    return _millis(stamp)


def _iso(found: re.Match[str]) -> int | None:
    text = found.group(1).replace(",", ".").replace(" ", "T")
    zone = found.group(2) or "+00:00"
    zone = "+00:00" if zone == "Z" else zone
    try:
        return _millis(dt.datetime.fromisoformat(text[:26] + zone))
    except ValueError:
        return None


class LogFiles:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "logs"

    def _endpoint_dirs(self, account: str, region: str) -> dict[str, list[Path]]:
        """endpoint name -> its log directories, in either layout (scoped by account/region, or not)."""
        found: dict[str, list[Path]] = {}
        for base in (self.root, self.root / account / region):
            if not base.is_dir():
                continue
            for child in base.iterdir():
                if child.is_dir() and any(child.glob("*/*.log")):
                    found.setdefault(child.name, []).append(child)
        return found

    def groups(self, account: str, region: str) -> list[tuple[str, list[Path]]]:
        """(group name, directories) of every endpoint with logs, sorted by name."""
        dirs = self._endpoint_dirs(account, region)
        return sorted((GROUP_PREFIX + name, path) for name, path in dirs.items())

    def group_dirs(self, account: str, region: str, group: str) -> list[Path] | None:
        if not group.startswith(GROUP_PREFIX):
            return None
        return self._endpoint_dirs(account, region).get(group[len(GROUP_PREFIX) :])

    @staticmethod
    def streams(group: str, directories: list[Path]) -> list[Stream]:
        return sorted(
            (
                Stream(group, f"{path.parent.name}/{path.stem}", path)
                for directory in directories
                for path in directory.glob("*/*.log")
                if _SAFE_PART.fullmatch(path.parent.name) and _SAFE_PART.fullmatch(path.stem)
            ),
            key=lambda stream: stream.name,
        )

    @staticmethod
    def events(stream: Stream) -> list[Event]:
        """Every line of the stream with its time, oldest first."""
        try:
            text = stream.path.read_bytes().decode("utf-8", errors="replace")
            written = _millis(dt.datetime.fromtimestamp(stream.path.stat().st_mtime, dt.UTC))
        except FileNotFoundError:
            return []
        lines = [line for line in text.splitlines() if line.strip()]
        times = [line_time(line) for line in lines]
        first = next((t for t in times if t is not None), written)
        out: list[Event] = []
        current = first
        for index, (line, stamp) in enumerate(zip(lines, times, strict=True)):
            current = stamp if stamp is not None else current
            out.append(Event(current, line, stream.name, index))
        return out


class FilterPattern:
    """CloudWatch's plain-text filter patterns: every term must occur (``"quoted phrase"`` as one term),
    ``-term`` must not, and ``?a ?b`` matches when any of them occurs. Matching is case-sensitive."""

    def __init__(self, pattern: str) -> None:
        terms = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', pattern or "")]
        self.required = [t for t in terms if not t.startswith(("-", "?"))]
        self.excluded = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]
        self.any_of = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]

    def __call__(self, message: str) -> bool:
        if self.any_of and not any(t in message for t in self.any_of):
            return False
        return all(t in message for t in self.required) and not any(t in message for t in self.excluded)
