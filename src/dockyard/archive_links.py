"""What ``model.tar.gz`` packing and unpacking share: where symlinks lead, member kinds, sizes as text."""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Literal

_MAX_LINK_HOPS = 40  # as the Linux kernel's limit on symlinks followed in one lookup


def human_size(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    exact = index == 0 or size == int(size)
    return f"{size:.0f} {units[index]}" if exact else f"{size:.1f} {units[index]}"


def follow(path: str, links: Mapping[str, str]) -> str | Literal["loop"] | None:
    """Where the relative ``path`` leads inside a tree whose symlinks are ``links`` (relative name →
    target); None when it leaves the tree, "loop" when the links never settle."""
    pending = list(PurePosixPath(path).parts)
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is None:
            continue
        hops += 1
        if hops > _MAX_LINK_HOPS:
            return "loop"
        if target.startswith("/"):
            return None
        done.pop()
        pending[:0] = PurePosixPath(target).parts
    return "/".join(done)


def link_problem(name: str, links: Mapping[str, str]) -> Literal["outside", "loop"] | None:
    parent = PurePosixPath(name).parent
    where = follow(str(parent / links[name]), links)
    if where is None:
        return "outside"
    return "loop" if where == "loop" else None


def kind_of(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "link"
    return "hardlink" if member.islnk() else "file"
