"""Reading one regular file as a sequence of chunks and sparse holes.

Sparse files are detected cheaply (allocated blocks < size) and then walked with
SEEK_DATA/SEEK_HOLE, so a 100 GiB image with 1 MiB of data costs 1 MiB of reading and
the holes are recorded as lengths. Data is read with pread(), never mmap: a file
truncated by another process while mmapped would kill us with SIGBUS.
"""

from __future__ import annotations

import errno
import os
from typing import Callable, Iterator

import pyfastcdc

_READ_SIZE = 4 * 1024 * 1024


def data_regions(fd: int, st: os.stat_result) -> list[tuple[int, int | None]]:
    """[(start, end)] of data; end None means 'until EOF' (the common, non-sparse case)."""
    size = st.st_size
    if size == 0 or st.st_blocks * 512 >= size:
        return [(0, None)]
    regions = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole remains
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            regions.append((start, min(end, size)))
            pos = end
    except OSError:
        return [(0, None)]  # filesystem without SEEK_DATA: read everything
    return regions


class _RegionStream:
    """A readinto() stream over [start, end) of a file, for pyfastcdc.cut_stream."""

    def __init__(self, fd: int, start: int, end: int | None):
        self.fd, self.pos, self.end = fd, start, end
        self.read_bytes = 0

    def readinto(self, buf) -> int:
        view = memoryview(buf)
        if self.end is not None:
            view = view[: max(0, self.end - self.pos)]
        if not view:
            return 0
        n = os.preadv(self.fd, [view], self.pos)
        self.pos += n
        self.read_bytes += n
        return n


def iter_pieces(fd: int, st: os.stat_result, chunker: pyfastcdc.FastCDC, small_limit: int) -> Iterator[bytes | int]:
    """Yield bytes (one chunk) or int (a hole of that many bytes), covering the whole file."""
    if st.st_size < small_limit:
        # Small files are one blob: a single read, no chunker overhead. One byte more
        # than the size tells us whether the file grew since stat; then chunk it all.
        data = os.pread(fd, st.st_size + 1, 0)
        if len(data) <= st.st_size:
            if data:
                yield data
            return
    pos = 0
    for start, end in data_regions(fd, st):
        if start > pos:
            yield start - pos
        stream = _RegionStream(fd, start, end)
        for chunk in chunker.cut_stream(stream):
            yield bytes(chunk.data)  # cut_stream reuses its buffer
        pos = start + stream.read_bytes
    if st.st_size > pos and st.st_blocks * 512 < st.st_size:
        yield st.st_size - pos  # trailing hole (only for sparse files)


class Content:
    """A file's content as read: its pieces (what `send` gave back for each chunk, or an int for
    a hole), its size, the bytes read, and whether the file was modified while it was read."""

    __slots__ = ("pieces", "size", "bytes_read", "modified")

    def __init__(self, pieces: list, size: int, bytes_read: int, modified: bool):
        self.pieces, self.size, self.bytes_read, self.modified = pieces, size, bytes_read, modified


def read_content(fd: int, st: os.stat_result, chunker: pyfastcdc.FastCDC, small_limit: int,
                 send: Callable[[bytes], object], progress: Callable[[int], None]) -> Content:
    """Reads the open file `fd` (fstat `st`) as iter_pieces does, handing each chunk to `send`."""
    pieces: list = []
    size = bytes_read = 0
    for piece in iter_pieces(fd, st, chunker, small_limit):
        if isinstance(piece, int):
            pieces.append(piece)
            size += piece
        else:
            pieces.append(send(piece))
            size += len(piece)
            bytes_read += len(piece)
        progress(piece if isinstance(piece, int) else len(piece))
    after = os.fstat(fd)
    return Content(pieces, size, bytes_read, after.st_mtime_ns != st.st_mtime_ns or size != st.st_size)
