"""How each benchmarked tool is driven: init, full backup, incremental backup, restore.

The three backup tools all encrypt (our engine: AES-256-GCM; restic: AES-256-CTR +
Poly1305; borg: repokey AES-CTR + HMAC) and compress with zstd level 3 or its equivalent
(restic 0.14 repository v2 "auto"; borg `--compression zstd,3`; ours zstd 3 by default), so
the comparison is like for like. Caches live under the work directory.

Our engine's incremental backup passes no --parent: `repo backup` takes the newest snapshot of
the same path from the same host itself, as restic does (since commit cd786b6; compare_revisions.py
sets Sharebackup.pass_parent, as a base revision may be older).

"tar" is the floor, not a backup tool: GNU tar piped into `zstd -3 -T0` (no encryption, no
deduplication, no index). The full backup is a level-0 --listed-incremental archive
(full.tar.zst, with a fresh full.snar); the incremental is a level-1 archive (incr.tar.zst)
made with a copy of full.snar (incr.snar). The restore extracts both in turn with
--listed-incremental=/dev/null, so the files deleted in between are deleted again. Both run
as `bash -c` pipelines, with pipefail: dash, Debian's /bin/sh, has no pipefail, and a
failing tar would go unnoticed. The wait4 rusage of bash covers its waited-for children, so
CPU is tar's + zstd's (+ bash's); the peak RSS is the largest of theirs, not their sum. The
repository size counts both archives and both .snar files.
"""

from __future__ import annotations

import os
import shlex
import sys

PASSWORD = "benchmark-passphrase"


class Tool:
    name = ""

    def __init__(self, work: str):
        self.work = work
        self.repo = os.path.join(work, f"repo-{self.name}")
        self.env = dict(os.environ)

    def init(self) -> list[list[str]]:
        raise NotImplementedError

    def backup(self, src: str, incremental: bool) -> list[str]:
        raise NotImplementedError

    def restore(self, target: str) -> tuple[list[str], str | None]:
        """(command, cwd)"""
        raise NotImplementedError

    def after_backup(self, stdout: str) -> None:
        pass


class Sharebackup(Tool):
    name = "sharebackup"
    pass_parent = False  # True: --parent <last snapshot>, for revisions whose CLI does not find it itself

    def __init__(self, work: str):
        super().__init__(work)
        self.key = os.path.join(work, "sharebackup.key")
        with open(self.key, "w") as f:
            f.write(PASSWORD + "\n")
        self.cli = [sys.executable, "-m", "sharebackup.cli.repo_commands", "repo"]
        self.last = None

    def _k(self):
        return ["--repo", self.repo, "--key-file", self.key]

    def init(self):
        return [self.cli + ["init", "--encrypt"] + self._k()]

    def backup(self, src, incremental):
        cmd = self.cli + ["backup"] + self._k() + [src]  # the CLI finds the parent snapshot itself
        return cmd + (["--parent", self.last] if self.pass_parent and incremental and self.last else [])

    def after_backup(self, stdout):
        self.last = stdout.strip().splitlines()[-1]

    def restore(self, target):
        return self.cli + ["restore"] + self._k() + [self.last, target], None


class Restic(Tool):
    name = "restic"

    def __init__(self, work):
        super().__init__(work)
        self.env.update(RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"))

    def init(self):
        return [["restic", "init", "--repo", self.repo, "-q"]]

    def backup(self, src, incremental):
        return ["restic", "backup", "--repo", self.repo, "-q", src]

    def restore(self, target):
        return ["restic", "restore", "latest", "--repo", self.repo, "--target", target, "-q"], None


class Borg(Tool):
    name = "borg"

    def __init__(self, work):
        super().__init__(work)
        self.env.update(BORG_PASSPHRASE=PASSWORD, BORG_BASE_DIR=os.path.join(work, "borg-base"))
        self.archive = "full"

    def init(self):
        return [["borg", "init", "-e", "repokey", self.repo]]

    def backup(self, src, incremental):
        self.archive = "incr" if incremental else "full"
        return ["borg", "create", "--compression", "zstd,3", f"{self.repo}::{self.archive}", src]

    def restore(self, target):
        os.makedirs(target, exist_ok=True)
        return ["borg", "extract", f"{self.repo}::{self.archive}"], target


class Tar(Tool):
    """GNU tar + zstd -3: the floor for backup and restore (see the module docstring)."""

    name = "tar"

    def _p(self, name: str) -> str:
        return shlex.quote(os.path.join(self.repo, name))

    def init(self):
        os.makedirs(self.repo)
        return []

    def backup(self, src, incremental):
        if incremental:  # level 1: against a copy of the full's snapshot file, which stays as it was
            level, prep = "incr", f"cp {self._p('full.snar')} {self._p('incr.snar')} && "
        else:  # level 0: a fresh snapshot file
            level, prep = "full", f"rm -f {self._p('full.snar')} && "
        script = (f"set -o pipefail; {prep}tar -c --listed-incremental={self._p(level + '.snar')} "
                  f"-C {shlex.quote(src)} -f - . | zstd -3 -T0 -q -o {self._p(level + '.tar.zst')}")
        return ["bash", "-c", script]

    def restore(self, target):
        t = shlex.quote(target)
        steps = [f"zstd -d -c -q {self._p(level + '.tar.zst')} | tar -x --listed-incremental=/dev/null -f - -C {t}"
                 for level in ("full", "incr")]
        return ["bash", "-c", f"set -o pipefail; mkdir -p {t} && " + " && ".join(steps)], None


TOOLS = {t.name: t for t in (Sharebackup, Restic, Borg, Tar)}
