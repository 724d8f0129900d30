"""Writing an artifact: atomic replacement, durable files, ordinary permissions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from featurekit.artifact import write_atomic
from featurekit.atomic import exchange


def _write(path: Path, version: int) -> Path:
    files = {"model.onnx": b"graph %d" % version, "features.json": b"{}"}
    return write_atomic(path, files, {"format_version": 1, "version": version})


def test_a_new_artifact_gets_ordinary_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        path = _write(tmp_path / "a", 1)
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o755


def test_replacing_an_artifact_leaves_no_temporary_directories(tmp_path: Path) -> None:
    for version in range(3):
        _write(tmp_path / "a", version)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["version"] == 2


def test_the_swap_is_atomic_where_the_filesystem_can(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not exchange(a, b):
        pytest.skip("this filesystem has no renameat2(RENAME_EXCHANGE)")
    assert (a / "x").read_text() == "b"
    assert (b / "x").read_text() == "a"


def test_a_reader_never_finds_the_path_missing_while_it_is_replaced(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "a", 0)
    if not exchange(path, path):  # same path: a supported no-op swap
        pytest.skip("this filesystem has no renameat2(RENAME_EXCHANGE)")
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:  # the path is there, with a whole manifest, at every instant
                json.loads((path / "manifest.json").read_text())
            except (OSError, ValueError) as exc:
                seen.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 300):
            _write(path, version)
    finally:
        done.set()
        reader.join()
    assert seen == []


def test_a_crashed_writers_temporary_directory_is_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    # a writer killed mid-write (SIGKILL: no cleanup runs) leaves its temporary copy
    crash = (
        "import os, signal, featurekit.atomic as a\n"
        "from featurekit.artifact import write_atomic\n"
        "real = a.write_synced\n"
        "def dies(path, data):\n"
        "    real(path, data)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "a.write_synced = dies\n"
        f"write_atomic({str(tmp_path / 'a')!r}, {{'model.onnx': b'g'}}, {{}})\n"
    )
    done = subprocess.run([sys.executable, "-c", crash], check=False)
    assert done.returncode == -signal.SIGKILL
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".a.")]
    young = tmp_path / ".a.writing"  # a live writer's: recent, kept
    young.mkdir()
    hour_ago = time.time() - 2 * 3600
    os.utime(left, (hour_ago, hour_ago))
    _write(tmp_path / "a", 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.writing", "a"]
