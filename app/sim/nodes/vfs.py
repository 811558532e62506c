"""A node's virtual file system: text files and directories in memory.

Paths are absolute POSIX paths. Directories exist explicitly (created with `mkdir` or
as parents of written files). Errors are `FsError` carrying the errno-style message the
coreutils print (`No such file or directory`, `Is a directory`, ...), so the node shell
can show them as a real shell would.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

ENOENT = "No such file or directory"
EISDIR = "Is a directory"
ENOTDIR = "Not a directory"
ENOTEMPTY = "Directory not empty"
EEXIST = "File exists"


class FsError(OSError):
    """A failed file operation; `reason` is the strerror text, `path` the culprit."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def normalize(path: str, cwd: str = "/") -> str:
    """An absolute, normalised path (`..` and `.` resolved, no trailing slash)."""
    if not path:
        raise FsError(path, ENOENT)
    joined = path if path.startswith("/") else posixpath.join(cwd, path)
    out = posixpath.normpath(joined)
    # normpath keeps a leading "//" (POSIX allows it to be special); we do not.
    return "/" + out.lstrip("/")


@dataclass
class VFile:
    content: str
    mode: int = 0o644
    mtime: str = ""


class VirtualFS:
    """Files (text) and directories of one node; not thread-safe on its own (the
    node agent serialises access)."""

    def __init__(self) -> None:
        self._files: dict[str, VFile] = {}
        self._dirs: set[str] = {"/"}
        # Bumped on every change, so a reader can tell whether anything moved.
        self.generation = 0

    # ---- queries ---------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        p = normalize(path)
        return p in self._files or p in self._dirs

    def is_file(self, path: str) -> bool:
        return normalize(path) in self._files

    def is_dir(self, path: str) -> bool:
        return normalize(path) in self._dirs

    def read(self, path: str) -> str:
        """The text of a file; FsError when missing or a directory."""
        p = normalize(path)
        if p in self._dirs:
            raise FsError(path, EISDIR)
        f = self._files.get(p)
        if f is None:
            raise FsError(path, ENOENT)
        return f.content

    def stat(self, path: str) -> VFile | None:
        return self._files.get(normalize(path))

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under a directory; FsError when it is not one."""
        p = normalize(path)
        if p in self._files:
            raise FsError(path, ENOTDIR)
        if p not in self._dirs:
            raise FsError(path, ENOENT)
        prefix = p.rstrip("/") + "/"
        names = set()
        for candidate in (*self._files, *self._dirs):
            if candidate.startswith(prefix) and candidate != p:
                rest = candidate[len(prefix) :]
                if rest and "/" not in rest:
                    names.add(rest)
        return sorted(names)

    def walk_files(self, path: str) -> list[str]:
        """Every file path under a directory (recursive), sorted."""
        prefix = normalize(path).rstrip("/") + "/"
        return sorted(f for f in self._files if f.startswith(prefix))

    # ---- changes ---------------------------------------------------------------------

    def mkdir(self, path: str, parents: bool = True) -> None:
        p = normalize(path)
        if p in self._files:
            raise FsError(path, EEXIST)
        parent = posixpath.dirname(p)
        if not parents and parent not in self._dirs:
            raise FsError(path, ENOENT)
        while p not in self._dirs:
            if p in self._files:
                raise FsError(p, ENOTDIR)
            self._dirs.add(p)
            p = posixpath.dirname(p)
        self.generation += 1

    def write(self, path: str, content: str, *, mode: int | None = None, mtime: str = "") -> None:
        """Create or replace a file, creating missing parent directories."""
        p = normalize(path)
        if p in self._dirs:
            raise FsError(path, EISDIR)
        parent = posixpath.dirname(p)
        if parent in self._files:
            raise FsError(path, ENOTDIR)
        self.mkdir(parent)
        old = self._files.get(p)
        self._files[p] = VFile(
            content, mode if mode is not None else (old.mode if old else 0o644), mtime
        )
        self.generation += 1

    def append(self, path: str, content: str, *, mtime: str = "") -> None:
        existing = self.read(path) if self.is_file(path) else ""
        self.write(path, existing + content, mtime=mtime)

    def remove(self, path: str, *, recursive: bool = False) -> None:
        """Delete a file, or a directory with `recursive`; FsError otherwise."""
        p = normalize(path)
        if p in self._files:
            del self._files[p]
        elif p in self._dirs:
            if not recursive:
                raise FsError(path, EISDIR)
            if p == "/":
                raise FsError(path, "Operation not permitted")
            prefix = p + "/"
            for f in [f for f in self._files if f.startswith(prefix)]:
                del self._files[f]
            self._dirs = {d for d in self._dirs if d != p and not d.startswith(prefix)}
        else:
            raise FsError(path, ENOENT)
        self.generation += 1

    def copy(self, src: str, dst: str, *, mtime: str = "") -> str:
        """Copy a file; a directory destination keeps the source name. Returns the
        path written."""
        content = self.read(src)
        target = self._target(src, dst)
        self.write(target, content, mode=self._files[normalize(src)].mode, mtime=mtime)
        return target

    def move(self, src: str, dst: str, *, mtime: str = "") -> str:
        """Rename a file or a directory tree; returns the new path."""
        s = normalize(src)
        target = self._target(src, dst)
        if s in self._files:
            f = self._files.pop(s)
            self.write(target, f.content, mode=f.mode, mtime=mtime or f.mtime)
            return target
        if s not in self._dirs:
            raise FsError(src, ENOENT)
        prefix = s + "/"
        moved_files = {f: v for f, v in self._files.items() if f.startswith(prefix)}
        moved_dirs = {d for d in self._dirs if d == s or d.startswith(prefix)}
        for f in moved_files:
            del self._files[f]
        self._dirs -= moved_dirs
        for d in moved_dirs:
            self.mkdir(target + d[len(s) :])
        for f, v in moved_files.items():
            self._files[target + f[len(s) :]] = v
        self.generation += 1
        return target

    def _target(self, src: str, dst: str) -> str:
        d = normalize(dst)
        if d in self._dirs:
            return posixpath.join(d, posixpath.basename(normalize(src)))
        return d

    # ---- snapshot --------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "dirs": sorted(self._dirs),
            "files": {p: [f.content, f.mode, f.mtime] for p, f in sorted(self._files.items())},
        }

    def load(self, data: dict[str, Any]) -> None:
        self._dirs = set(data.get("dirs", [])) | {"/"}
        self._files = {p: VFile(c, m, t) for p, (c, m, t) in data.get("files", {}).items()}
        self.generation += 1
