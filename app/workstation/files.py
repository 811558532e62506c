"""The workstation's virtual folder: a small in-memory file tree kept with the session.

Paths are POSIX paths inside the virtual tree only; nothing here touches the host's
disk. `..` never climbs above `/` of the virtual tree, which holds just the learner's
home folder and `/tmp` (no `/etc`, no `/root`): `cat /etc/passwd` finds nothing.
"""

from __future__ import annotations

import posixpath
from typing import Any

HOME = "/home/candidate"
# Limits that keep one workstation small in the database.
MAX_FILE_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 500


class FileError(Exception):
    """A file operation failed; `reason` is what a shell prints after the path."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def normalize(path: str, cwd: str) -> str:
    """The absolute virtual path of `path` seen from `cwd` (`~` is the home folder);
    `..` stops at `/`."""
    if path == "~" or path.startswith("~/"):
        path = HOME + path[1:]
    joined = path if path.startswith("/") else posixpath.join(cwd, path)
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class VirtualFolder:
    """Files (path -> text) and folders of one workstation."""

    def __init__(self, files: dict[str, str] | None = None, dirs: list[str] | None = None):
        self.files: dict[str, str] = dict(files or {})
        self.dirs: set[str] = {"/", "/home", HOME, "/tmp"} | set(dirs or [])

    # ---- state --------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {"files": dict(self.files), "dirs": sorted(self.dirs)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VirtualFolder:
        return cls(state.get("files") or {}, state.get("dirs") or [])

    # ---- queries ------------------------------------------------------------------

    def is_dir(self, path: str) -> bool:
        return path in self.dirs

    def is_file(self, path: str) -> bool:
        return path in self.files

    def exists(self, path: str) -> bool:
        return self.is_dir(path) or self.is_file(path)

    def read(self, path: str) -> str:
        if path in self.dirs:
            raise FileError(path, "Is a directory")
        if path not in self.files:
            raise FileError(path, "No such file or directory")
        return self.files[path]

    def children(self, path: str) -> list[str]:
        """Names directly inside the folder `path`, sorted."""
        if path not in self.dirs:
            if path in self.files:
                raise FileError(path, "Not a directory")
            raise FileError(path, "No such file or directory")
        prefix = path.rstrip("/") + "/"
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in [*self.files, *self.dirs]
            if p.startswith(prefix) and p != path
        }
        return sorted(names)

    def size(self) -> int:
        return sum(len(text.encode()) for text in self.files.values())

    # ---- changes ------------------------------------------------------------------

    def _check_parent(self, path: str) -> None:
        parent = posixpath.dirname(path)
        if parent not in self.dirs:
            raise FileError(path, "No such file or directory")

    def write(self, path: str, text: str, append: bool = False) -> None:
        if path in self.dirs:
            raise FileError(path, "Is a directory")
        self._check_parent(path)
        new = (self.files.get(path, "") + text) if append else text
        if len(new.encode()) > MAX_FILE_BYTES:
            raise FileError(path, "File too large (the workstation keeps files up to 512 KiB)")
        grown = self.size() - len(self.files.get(path, "").encode()) + len(new.encode())
        if grown > MAX_TOTAL_BYTES:
            raise FileError(path, "No space left on device (the home folder holds 2 MiB)")
        if path not in self.files and len(self.files) + len(self.dirs) >= MAX_ENTRIES:
            raise FileError(path, "No space left on device (too many files)")
        self.files[path] = new

    def mkdir(self, path: str, parents: bool = False) -> None:
        if path in self.files:
            raise FileError(path, "File exists")
        if path in self.dirs:
            if parents:
                return
            raise FileError(path, "File exists")
        parent = posixpath.dirname(path)
        if parent not in self.dirs:
            if not parents:
                raise FileError(path, "No such file or directory")
            self.mkdir(parent, parents=True)
        if len(self.files) + len(self.dirs) >= MAX_ENTRIES:
            raise FileError(path, "No space left on device (too many files)")
        self.dirs.add(path)

    def remove(self, path: str, recursive: bool = False) -> None:
        if path in self.files:
            del self.files[path]
            return
        if path not in self.dirs:
            raise FileError(path, "No such file or directory")
        if not recursive:
            raise FileError(path, "Is a directory")
        if path in ("/", "/home", HOME, "/tmp"):
            raise FileError(path, "Device or resource busy")
        prefix = path + "/"
        for p in [p for p in self.files if p.startswith(prefix)]:
            del self.files[p]
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}

    def copy_tree(self, source: str, target: str, move: bool = False) -> None:
        """Copy (or move) a file or, recursively, a folder to `target`."""
        if source in self.files:
            self.write(target, self.files[source])
            if move:
                del self.files[source]
            return
        if source not in self.dirs:
            raise FileError(source, "No such file or directory")
        if target == source or target.startswith(source + "/"):
            raise FileError(target, "cannot copy a directory into itself")
        self.mkdir(target, parents=True)
        prefix = source + "/"
        for d in sorted(d for d in self.dirs if d.startswith(prefix)):
            self.mkdir(target + d[len(source) :], parents=True)
        for p in sorted(p for p in self.files if p.startswith(prefix)):
            self.write(target + p[len(source) :], self.files[p])
        if move:
            self.remove(source, recursive=True)
