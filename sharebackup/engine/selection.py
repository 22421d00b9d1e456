"""What a restore writes: the whole snapshot, or the named paths less what the exclude
patterns match (restic's `restore --include/--exclude`).

A directory that only leads to a named path is on the way: it is made if missing, but
nothing else in it is touched (replace mode removes extras only inside the named paths),
and an existing one keeps its own times.
"""
from __future__ import annotations

import fnmatch

from sharebackup.engine.browse import split_path

INSIDE, WAY, OUT = "inside", "way", "out"


class Selection:
    def __init__(self, include: list[str] | tuple = (), exclude: list[str] | tuple = ()):
        paths = [tuple(split_path(p)) for p in include]
        self.include = [] if any(not p for p in paths) else paths  # "/" is everything
        self.exclude = [p for p in exclude if p]

    @property
    def everything(self) -> bool:
        return not self.include

    def state(self, rel: str) -> str:
        """INSIDE a named path, on the WAY to one, or OUT of the selection (rel: '/a/b')."""
        if self.everything:
            return INSIDE
        parts = tuple(p for p in rel.split("/") if p)
        if any(parts[:len(inc)] == inc for inc in self.include):
            return INSIDE
        return WAY if any(inc[:len(parts)] == parts for inc in self.include) else OUT

    def excluded(self, rel: str, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(rel, pattern)
                   for pattern in self.exclude)
