"""A container's file system with volumes mounted into it: `MountedFS`.

The container's own files live in the `VirtualFS` it extends; a path at or under a
mount point is served by the volume's backing file system instead (a directory, or a
single file, of another `VirtualFS`): the node's file system for hostPath volumes,
emptyDirs (`/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>`) and
local volumes, or the volume's own file system for network volumes. Every container
mounting the same backing sees the same files, and they outlive the container.
A read-only mount refuses writes with the kernel's `Read-only file system`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from app.sim.nodes.vfs import FsError, VFile, VirtualFS, normalize

EROFS = "Read-only file system"


@dataclass
class Mount:
    point: str  # normalised path in the container
    backing: VirtualFS
    root: str  # normalised path in the backing file system
    read_only: bool = False


class MountedFS(VirtualFS):
    """A VirtualFS with mounts; see the module text."""

    def __init__(self) -> None:
        super().__init__()
        self.mounts: list[Mount] = []

    def mount(self, point: str, backing: VirtualFS, root: str, *, read_only: bool = False) -> None:
        """Mount `root` of `backing` at `point` (a later mount at the same point wins)."""
        p = normalize(point)
        self.mounts = [m for m in self.mounts if m.point != p]
        self.mounts.append(Mount(p, backing, normalize(root), read_only))
        # Longest mount point first, so nested mounts resolve to the innermost.
        self.mounts.sort(key=lambda m: len(m.point), reverse=True)
        parent = posixpath.dirname(p)
        if parent not in self._files:
            super().mkdir(parent)

    def _route(self, path: str) -> tuple[Mount, str] | None:
        p = normalize(path)
        for m in self.mounts:
            if p == m.point:
                return m, m.root
            if p.startswith(m.point.rstrip("/") + "/"):
                return m, m.root.rstrip("/") + p[len(m.point.rstrip("/")) :]
        return None

    def _writable(self, path: str) -> tuple[Mount, str] | None:
        routed = self._route(path)
        if routed is not None and routed[0].read_only:
            raise FsError(path, EROFS)
        return routed

    # ---- queries ---------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        routed = self._route(path)
        return super().exists(path) if routed is None else routed[0].backing.exists(routed[1])

    def is_file(self, path: str) -> bool:
        routed = self._route(path)
        return super().is_file(path) if routed is None else routed[0].backing.is_file(routed[1])

    def is_dir(self, path: str) -> bool:
        routed = self._route(path)
        return super().is_dir(path) if routed is None else routed[0].backing.is_dir(routed[1])

    def read(self, path: str) -> str:
        routed = self._route(path)
        if routed is None:
            return super().read(path)
        try:
            return routed[0].backing.read(routed[1])
        except FsError as error:
            raise FsError(path, error.reason) from None

    def stat(self, path: str) -> VFile | None:
        routed = self._route(path)
        return super().stat(path) if routed is None else routed[0].backing.stat(routed[1])

    def listdir(self, path: str) -> list[str]:
        routed = self._route(path)
        if routed is not None:
            try:
                return routed[0].backing.listdir(routed[1])
            except FsError as error:
                raise FsError(path, error.reason) from None
        names = set(super().listdir(path))
        prefix = normalize(path).rstrip("/") + "/"
        for m in self.mounts:
            rest = m.point[len(prefix) :] if m.point.startswith(prefix) else ""
            if rest and "/" not in rest:
                names.add(rest)
        return sorted(names)

    def walk_files(self, path: str) -> list[str]:
        routed = self._route(path)
        if routed is not None:
            mount, root = routed
            base = normalize(path).rstrip("/")
            inner = root.rstrip("/")
            return sorted(
                base + f[len(inner) :] for f in mount.backing.walk_files(root) if f != inner
            )
        prefix = normalize(path).rstrip("/") + "/"
        found = set(super().walk_files(path))
        for m in self.mounts:
            if m.point.startswith(prefix):
                if m.backing.is_file(m.root):
                    found.add(m.point)
                else:
                    found.update(self.walk_files(m.point))
        return sorted(found)

    # ---- changes ---------------------------------------------------------------------

    def mkdir(self, path: str, parents: bool = True) -> None:
        routed = self._writable(path)
        if routed is None:
            super().mkdir(path, parents)
        else:
            routed[0].backing.mkdir(routed[1], parents)
            self.generation += 1

    def write(self, path: str, content: str, *, mode: int | None = None, mtime: str = "") -> None:
        routed = self._writable(path)
        if routed is None:
            super().write(path, content, mode=mode, mtime=mtime)
        else:
            routed[0].backing.write(routed[1], content, mode=mode, mtime=mtime)
            self.generation += 1

    def remove(self, path: str, *, recursive: bool = False) -> None:
        p = normalize(path)
        if any(m.point == p for m in self.mounts):
            raise FsError(path, "Device or resource busy")
        routed = self._writable(path)
        if routed is None:
            super().remove(path, recursive=recursive)
        else:
            routed[0].backing.remove(routed[1], recursive=recursive)
            self.generation += 1

    def copy(self, src: str, dst: str, *, mtime: str = "") -> str:
        content = self.read(src)
        source = self.stat(src)
        target = self._target(src, dst)
        self.write(target, content, mode=source.mode if source else None, mtime=mtime)
        return target

    def move(self, src: str, dst: str, *, mtime: str = "") -> str:
        source, target = self._route(src), self._route(self._target(src, dst))
        if source is None and target is None:
            return super().move(src, dst, mtime=mtime)
        if source is not None and target is not None and source[0] is target[0]:
            self._writable(src)
            source[0].backing.move(source[1], target[1], mtime=mtime)
            self.generation += 1
            return self._target(src, dst)
        # Across file systems: copy, then remove the source (as mv does).
        destination = self._target(src, dst)
        if self.is_dir(src):
            base = normalize(src)
            for f in self.walk_files(src):
                self.copy(f, destination + f[len(base) :], mtime=mtime)
            self.mkdir(destination)
        else:
            self.copy(src, destination, mtime=mtime)
        self.remove(src, recursive=True)
        return destination

    def _target(self, src: str, dst: str) -> str:
        d = normalize(dst)
        if self.is_dir(d):
            return posixpath.join(d, posixpath.basename(normalize(src)))
        return d
