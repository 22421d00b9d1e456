"""Compare two trees entry by entry: type, content, mode, owner, mtime_ns, size,
symlink target, xattrs, hard-link grouping and sparseness. `diff -r` covers content
only (and follows symlinks); this covers the metadata a backup must keep.

    python benchmarks/compare_trees.py SOURCE RESTORED    (exit 0 when identical)
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys


def describe(root: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    first_name: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            d = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid,
                 "gid": st.st_gid, "mtime_ns": st.st_mtime_ns}
            if stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(full)
            else:
                try:
                    d["xattrs"] = {x: os.getxattr(full, x) for x in sorted(os.listxattr(full))}
                except OSError:
                    d["xattrs"] = "unreadable"
            if stat.S_ISREG(st.st_mode):
                d["size"] = st.st_size
                d["sparse"] = st.st_blocks * 512 < st.st_size
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                d["sha256"] = h.hexdigest()
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                d["hardlink_group"] = first_name.setdefault((st.st_dev, st.st_ino), rel)
            out[rel] = d
    return out


def differences(source: str, restored: str) -> tuple[list[str], dict[str, dict]]:
    """What differs between the two trees (empty when identical), and the source's description."""
    a, b = describe(source), describe(restored)
    problems = []
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            problems.append(f"missing in restored: {rel}")
        elif rel not in a:
            problems.append(f"extra in restored: {rel}")
        elif a[rel] != b[rel]:
            diff = {k: (a[rel].get(k), b[rel].get(k)) for k in set(a[rel]) | set(b[rel]) if a[rel].get(k) != b[rel].get(k)}
            problems.append(f"differs: {rel}: {diff}")
    return problems, a


def main() -> int:
    problems, a = differences(sys.argv[1], sys.argv[2])
    for p in problems[:50]:
        print(p)
    kinds = {}
    for d in a.values():
        kinds[d["type"]] = kinds.get(d["type"], 0) + 1
    names = {stat.S_IFREG: "files", stat.S_IFDIR: "dirs", stat.S_IFLNK: "symlinks", stat.S_IFIFO: "fifos"}
    summary = ", ".join(f"{n} {names.get(k, oct(k))}" for k, n in sorted(kinds.items()))
    links = sum(1 for d in a.values() if "hardlink_group" in d)
    print(f"compared {len(a)} entries ({summary}; {links} with hard links): "
          + ("identical" if not problems else f"{len(problems)} difference(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
