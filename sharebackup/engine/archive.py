"""A subtree of a snapshot as a tar or zip stream, written to any file-like ``out`` as it is
read: one blob in memory at a time, whatever the sizes (names relative to the subtree)."""
from __future__ import annotations

import tarfile
import zipfile

from sharebackup.engine import browse

FORMATS = ("tar", "zip")


def write_archive(repo, node: dict, out, fmt: str = "tar") -> None:
    if fmt == "zip":
        write_zip(repo, node, out)
    else:
        write_tar(repo, node, out)


def _entries(repo, node: dict):
    if node["type"] != "dir":  # one file: the archive holds it under its own name
        yield node["name"], node
        return
    for path, child in browse.walk(repo, node):
        if path != "/":
            yield path.lstrip("/"), child


def write_tar(repo, node: dict, out) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as archive:
        for name, child in _entries(repo, node):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = child.get("mode", 0o644), (child.get("mtime_ns") or 0) / 1e9
            if child["type"] == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif child["type"] == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, child.get("target", "")
                archive.addfile(info)
            elif child["type"] == "file":
                info.size = child.get("size", 0)
                archive.addfile(info, ChunkReader(browse.read_range(repo, child)))


def write_zip(repo, node: dict, out) -> None:
    """Zip has no symlinks or devices worth the name: those are left out (tar keeps symlinks)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, child in _entries(repo, node):
            if child["type"] == "dir":
                archive.writestr(zipfile.ZipInfo(name + "/"), b"")
            elif child["type"] == "file":
                info = zipfile.ZipInfo(name, _zip_time(child.get("mtime_ns")))
                info.external_attr = (child.get("mode", 0o644) & 0xFFFF) << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    for piece in browse.read_range(repo, child):
                        member.write(piece)


def _zip_time(ns) -> tuple:
    import time
    seconds = max((ns or 0) / 1e9, 315532800)  # zip cannot say anything before 1980
    return time.gmtime(seconds)[:6]


class ChunkReader:
    """A file-like view of a chunk iterator, for tarfile."""

    def __init__(self, pieces):
        self.pieces, self.buffer = pieces, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece
        data, self.buffer = (self.buffer, b"") if size < 0 else (self.buffer[:size], self.buffer[size:])
        return data
