"""The prediction log's files: a writable directory, atomic publishing, retention.

Every file of the log appears whole or not at all (`publish` writes under a dot-name
and renames it into place); `expire_hours` deletes whole hourly partitions.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

__all__ = ["check_directory", "expire_hours", "publish"]

#: Columns whose values repeat within a file: dictionary-encoded, the others not.
_REPEATED = {"model_name", "model_sha256", "served_by", "label"}


def check_directory(directory: str | os.PathLike[str]) -> Path:
    """Create `directory` if needed and prove it writable, or raise a clear OSError."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(
            f"The prediction log directory {str(path)!r} is not writable "
            f"({exc.strerror or exc}). Give a directory this process may write to."
        ) from None
    return path


def publish(directory: Path, name: str, table: Any) -> Path:
    """Write `table` as ``directory/name`` under a dot-name, then rename it into place."""
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    # dictionary pages only for the columns whose values repeat: ids are unique, and
    # encoding them twice costs the writer a third of its time for larger files
    repeated = [c for c in table.column_names if c in _REPEATED]
    pq.write_table(table, tmp, compression="zstd", use_dictionary=repeated)
    os.replace(tmp, directory / name)
    return directory / name


def expire_hours(root: Path, folder: str, cutoff: float) -> list[str]:
    """Delete ``root/folder/date=*/hour=*`` partitions whose hour ended by `cutoff`.

    `cutoff` is in seconds since the epoch; emptied date folders go too. Returns the
    partitions deleted, relative to `root`.
    """
    removed = []
    for date_dir in sorted((root / folder).glob("date=*")):
        for hour_dir in sorted(date_dir.glob("hour=*")):
            try:
                start = _dt.datetime.strptime(
                    f"{date_dir.name[5:]} {hour_dir.name[5:]}", "%Y-%m-%d %H"
                ).replace(tzinfo=_dt.UTC)
            except ValueError:
                continue  # not ours
            if start.timestamp() + 3600 <= cutoff:
                shutil.rmtree(hour_dir, ignore_errors=True)
                removed.append(str(hour_dir.relative_to(root)))
        if date_dir.exists() and not any(date_dir.iterdir()):
            date_dir.rmdir()
    return removed
