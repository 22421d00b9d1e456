"""What `sharebackup repo` prints: a progress bar on a terminal, JSON lines with --json,
silence when piped; sizes in human units for people and exact numbers in JSON."""
from __future__ import annotations

import json
import sys
import threading
import time


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def human_lines(stats: dict) -> list[str]:
    """`key: value` lines, byte counts (keys naming bytes) in human units."""
    return [f"{key}: {human_bytes(value) if _is_bytes(key, value) else value}" for key, value in stats.items()]


def _is_bytes(key: str, value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and "bytes" in key.split("_")


class Output:
    """Progress (of ``unit``: "bytes", or a thing counted such as "packs"), per-file reports,
    and the result."""

    def __init__(self, as_json: bool, label: str, unit: str = "bytes"):
        self.as_json = as_json
        self.label = label
        self.unit = unit
        self.tty = sys.stderr.isatty() and not as_json
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._drawn = False

    @property
    def callback(self):
        """The progress callback, or None when nothing would be shown (saves the size walk)."""
        return self.progress if (self.tty or self.as_json) else None

    def progress(self, done: int, total: int) -> None:
        with self._lock:
            if self.as_json:
                print(json.dumps({"event": "progress", "done": done, "total": total}), flush=True)
            elif self.tty:
                sys.stderr.write(f"\r{self.bar(done, total)} ")
                sys.stderr.flush()
                self._drawn = True

    def bar(self, done: int, total: int) -> str:
        frac = done / total if total else 1.0
        rate = done / max(time.monotonic() - self.started, 1e-6)
        if self.unit == "bytes":
            amount = f"{human_bytes(done)} / {human_bytes(total)} {human_bytes(rate)}/s"
        else:
            amount = f"{done} / {total} {self.unit}"
        return f"{self.label} [{'#' * int(frac * 30):<30}] {frac:6.1%} {amount}"

    def report(self, path: str, kind: str, message: str) -> None:
        with self._lock:
            if self.as_json:
                print(json.dumps({"event": "warning", "path": path, "kind": kind, "message": message}), flush=True)
            else:
                if self._drawn:
                    sys.stderr.write("\n")
                    self._drawn = False
                print(f"{kind}: {path}: {message}", file=sys.stderr)

    def done(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def result(self, doc: dict, text_lines: list[str]) -> None:
        self.done()
        if self.as_json:
            print(json.dumps({"event": "result", **doc}, default=str), flush=True)
        else:
            for line in text_lines:
                print(line)
