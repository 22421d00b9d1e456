"""The rule of docs/security.md, checked on the source: the modules that touch a share's
contents call no path-based os, os.path, shutil or pathlib function on them.

A share's tenant can swap any name for a symlink between two system calls, so every
call on share contents must be relative to a directory fd we opened (dir_fd=...), act on
an fd we hold, or go through sharebackup/engine/safe_fs.py, whose few calls that need a
path (the magic /proc/self/fd links, the root a caller names) are reviewed there. The
exceptions below are the share *roots*: paths the service or the operator chose, never
a tenant's name. A new exception needs a reason here.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "sharebackup"

SHARE_MODULES = [
    "engine/backup.py", "engine/backup_walk.py", "engine/read_ahead.py",
    "engine/file_reader.py", "engine/restore.py", "engine/restore_files.py", "engine/restore_links.py",
    "engine/restore_target.py", "engine/metadata_warmer.py",
    "engine/fs_apply.py", "engine/safe_tree.py", "engine/safe_copy.py", "engine/safe_remove.py",
    "shares/local.py", "shares/local_snapshots.py",
]

# os functions that resolve a path: allowed only with a dir_fd keyword (the *at form)
PATH_FUNCS = {
    "open", "stat", "lstat", "chmod", "lchmod", "chown", "lchown", "utime", "link", "unlink", "remove", "rmdir",
    "mkdir", "rename", "replace", "symlink", "readlink", "mknod", "mkfifo", "access", "truncate",
}
# never on share contents: they walk or resolve whole paths, or have no *at form
FORBIDDEN_OS = {"walk", "fwalk", "scandir", "listdir", "makedirs", "removedirs", "renames", "chdir", "chroot",
                "listxattr", "getxattr", "setxattr", "removexattr", "lchflags", "chflags", "statvfs"}
AT_KEYWORDS = {"dir_fd", "src_dir_fd", "dst_dir_fd"}
# of those, the ones that also take an fd we hold instead of a path
FD_FORMS = {"listdir", "scandir", "listxattr", "getxattr", "setxattr", "removexattr", "statvfs"}

# (module, dotted call): why it is not share content
ALLOWED = {
    ("engine/backup.py", "os.path.abspath"): "the backup's root, named by the caller",
    ("engine/restore_target.py", "os.makedirs"): "the restore's target root, named by the caller",
    ("engine/restore_files.py", "os.path.isdir"): "probes /proc/self/fd once at import",
    ("engine/metadata_warmer.py", "os.path.abspath"): "the warmer's own script, which the child process runs",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _magic_link(arg: ast.AST) -> bool:
    """A path through /proc/self/fd/N: the inode behind an fd we hold, not a tenant's name."""
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).startswith("/proc/self/fd/")
    return isinstance(arg, ast.Call) and _dotted(arg.func).endswith("proc_path")


def _an_fd(arg: ast.AST) -> bool:
    """By name: `fd`, `dir_fd`, `handle.fd`: the f* form of a call (fchmod, fsetxattr, futimens)."""
    name = arg.id if isinstance(arg, ast.Name) else arg.attr if isinstance(arg, ast.Attribute) else ""
    return name == "fd" or name.endswith("_fd")


def violations(module: str) -> list[str]:
    path = PACKAGE / module
    tree = ast.parse(path.read_text())
    found = []
    for node in sorted(ast.walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{module}:{node.lineno} imports {n}" for n in names if n in ("shutil", "pathlib", "glob")]
        if not isinstance(node, ast.Call):
            continue
        call = _dotted(node.func)
        if (module, call) in ALLOWED:
            continue
        where = f"{module}:{node.lineno} {call}()"
        if call == "open" or call.startswith(("os.path.", "shutil.", "pathlib.", "Path")):
            found.append(where)
        elif call.startswith("os.") and call[3:] in FORBIDDEN_OS:
            if not (call[3:] in FD_FORMS and node.args and _an_fd(node.args[0])):
                found.append(where)
        elif call.startswith("os.") and call[3:] in PATH_FUNCS:
            if not ({k.arg for k in node.keywords} & AT_KEYWORDS
                    or (node.args and (_magic_link(node.args[0]) or _an_fd(node.args[0])))):
                found.append(where + " without dir_fd")
    return found


@pytest.mark.parametrize("module", SHARE_MODULES)
def test_share_modules_use_no_path_based_calls(module):
    assert (PACKAGE / module).exists(), f"{module} is listed here but does not exist"
    assert violations(module) == []


def test_the_rule_finds_what_it_is_meant_to_find(tmp_path, monkeypatch):
    """The checker itself must be able to fail: the old by-path walker's calls are caught."""
    sample = PACKAGE / "engine" / "_rule_sample.py"
    sample.write_text(
        "import os\nimport shutil\n"
        "def walk(path, name):\n"
        "    with os.scandir(path) as it: pass\n"
        "    os.lstat(os.path.join(path, name))\n"
        "    os.chmod(path, 0o700)\n"
        "    os.utime(dir_fd, ns=(1, 1))\n"  # fine: an fd
        "    os.lstat(name, dir_fd=3)\n"  # fine
        "    os.link(f'/proc/self/fd/{3}', name, dst_dir_fd=4)\n"  # fine
        "    shutil.rmtree(path)\n"
    )
    try:
        found = violations("engine/_rule_sample.py")
    finally:
        sample.unlink()
    assert [f.split(" ", 1)[1] for f in found] == [
        "imports shutil", "os.scandir()", "os.lstat() without dir_fd", "os.path.join()",
        "os.chmod() without dir_fd", "shutil.rmtree()"]
