"""An artifact is durable before it appears: every file and both directories are fsynced.

Issue 16 found that nothing was fsynced: after a power cut the renamed directory could
hold empty or partial files under a manifest that names their hashes. The test watches
`os.fsync` (still calling it) while `write_atomic` runs, and resolves each descriptor
to the path it was opened on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from featurekit.artifact import write_atomic


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths `os.fsync` is called on from now on (it still syncs them)."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("replace", [False, True], ids=["new", "replaced"])
def test_every_file_and_both_directories_are_fsynced(
    tmp_path: Path, synced: list[str], replace: bool
) -> None:
    files = {"model.onnx": b"graph", "features.json": b"{}", "profile.json": b"{}"}
    target = tmp_path / "artifacts" / "credit"
    if replace:
        write_atomic(target, files, {"format_version": 1, "version": 1})
        synced.clear()
    write_atomic(target, files, {"format_version": 1, "version": 2})
    names = {Path(p).name for p in synced}
    assert {*files, "manifest.json"} <= names, synced
    # the new directory's entries (its temporary name, then renamed into place) ...
    temporary = [p for p in synced if Path(p).name.startswith(".credit.")]
    assert temporary, f"the artifact directory was not fsynced: {synced}"
    # ... and the parent, whose entry the rename changed, after the files
    parent = str(target.parent)
    assert parent in synced, f"the parent directory was not fsynced: {synced}"
    assert synced.index(parent) > max(
        synced.index(p) for p in synced if Path(p).name == "manifest.json"
    )
