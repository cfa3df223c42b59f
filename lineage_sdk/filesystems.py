"""Which file system a path is on, and whether it is a network one (where SQLite locking fails).

Used by ``lineage doctor``; pure but for reading ``/proc/mounts``, which tests pass in instead.

Example::

    network_filesystem("/mnt/share/lineage.db")   # 'nfs4', or None on a local disk
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "LOCAL_FILESYSTEMS",
    "NETWORK_FILESYSTEMS",
    "atomic_appends",
    "filesystem_type",
    "network_filesystem",
]

#: File systems on which SQLite's locking cannot be trusted (see sqlite.org/faq.html#q5).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smbfs",
        "smb3",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "fuse.sshfs",
        "sshfs",
        "fuse.gcsfuse",
        "fuse.s3fs",
        "fuse.rclone",
        "davfs",
        "fuse.juicefs",
        "beegfs",
        "ocfs2",
        "gfs2",
    }
)


#: Local file systems of Linux on which one ``write`` to an ``O_APPEND`` descriptor is atomic
#: with respect to every other appender (the kernel holds the inode's lock for the whole write).
LOCAL_FILESYSTEMS = frozenset(
    {
        "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "f2fs", "zfs", "overlay",
        "jfs", "reiserfs", "bcachefs", "nilfs2",
    }
)  # fmt: skip


def filesystem_type(path: str | os.PathLike[str], mounts: str | None = None) -> str | None:
    """The type of the file system holding ``path`` (from ``/proc/mounts``), or None if unknown."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = os.path.abspath(path)
    best, best_type = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def network_filesystem(path: str | os.PathLike[str], mounts: str | None = None) -> str | None:
    """The network file system type ``path`` is on (SQLite is not safe there), or None."""
    fs = filesystem_type(path, mounts)
    return fs if fs is not None and fs.lower() in NETWORK_FILESYSTEMS else None


def atomic_appends(path: str | os.PathLike[str], mounts: str | None = None) -> bool:
    """Whether appends to ``path`` need no lock to stay whole: a known local file system.

    False where unsure (an unknown or network file system, no ``/proc/mounts``): NFS clients
    compute the end of file themselves, so only a lock keeps two hosts' lines apart.
    """
    fs = filesystem_type(os.path.realpath(path), mounts)
    return fs is not None and fs.lower() in LOCAL_FILESYSTEMS
