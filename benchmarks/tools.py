"""How each benchmarked tool is driven: init, full backup, incremental backup, restore.

All three encrypt (our engine: AES-256-GCM; restic: AES-256-CTR + Poly1305; borg:
repokey AES-CTR + HMAC) and compress with zstd level 3 or its equivalent (restic 0.14
repository v2 "auto"; borg `--compression zstd,3`; ours zstd 3 by default), so the
comparison is like for like. Caches live under the work directory.
"""

from __future__ import annotations

import os
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
        cmd = self.cli + ["backup"] + self._k() + [src]
        return cmd + (["--parent", self.last] if incremental and self.last else [])

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


TOOLS = {t.name: t for t in (Sharebackup, Restic, Borg)}
