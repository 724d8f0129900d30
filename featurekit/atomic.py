"""Durable, atomic file-system writes: fsynced files and directories, an atomic swap.

The ground floor of `featurekit.artifact.write_atomic`: no featurekit imports.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import time
from pathlib import Path

__all__ = [
    "STALE_SECONDS",
    "exchange",
    "remove_stale",
    "sync_dir",
    "umask",
    "write_synced",
]

#: A writer's temporary directory untouched this long was left by a crash: a write
#: holds its files in memory and lasts seconds.
STALE_SECONDS = 3600.0


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sync_dir(path: Path) -> None:
    """Make a directory's entries durable (renames included); a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where unsupported."""
    if sys.platform != "linux":
        return False
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # a C library without it
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(
        at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange
    )
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # not on this fs
        return False
    raise OSError(code, os.strerror(code), str(b))


def remove_stale(parent: Path, prefix: str, age: float = STALE_SECONDS) -> list[Path]:
    """Remove what a writer killed mid-write left in `parent`; return what went.

    That is every directory named `prefix`... untouched for `age` seconds: a crashed
    writer's temporary copy, or the previous version it set aside. A live writer's
    are younger.

    Examples
    --------
    >>> import tempfile
    >>> parent = Path(tempfile.mkdtemp())
    >>> (parent / ".credit.x1").mkdir()
    >>> remove_stale(parent, ".credit.", age=3600)  # made just now: a live writer's
    []
    >>> [p.name for p in remove_stale(parent, ".credit.", age=-1)]
    ['.credit.x1']
    """
    removed = []
    now = time.time()
    for entry in parent.glob(glob.escape(prefix) + "*"):
        try:
            stale = entry.is_dir() and not entry.is_symlink()
            if stale and now - entry.stat().st_mtime > age:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:  # gone already, or not ours to read
            continue
    return removed
