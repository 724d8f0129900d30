"""KServe, MLServer and featurekit serve as real processes on loopback, for the tests.

KServe and MLServer pin libraries featurekit's own environment does not take (KServe
pandas 2, MLServer its FastAPI), so each runs from a virtualenv of its own, made on
first use from ``requirements-<server>.txt`` beside this file (a full pip freeze,
installed with ``--no-deps``) under ``.venv-platforms/`` (gitignored), keyed by the
file's hash: a changed file makes a new venv. featurekit and serving come from this
checkout through ``PYTHONPATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENVS = ROOT / ".venv-platforms"


def platform_python(server: str) -> Path:
    """The interpreter of `server`'s venv, created and filled if missing."""
    requirements = HERE / f"requirements-{server}.txt"
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = VENVS / f"{server}-{key}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted run
    venv.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"pip could not make the {server} venv:\n{done.stderr[-3000:]}"
        )
    (venv / ".complete").write_text(key)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A server process; `stop` ends it (it alone, by its id) and returns its log."""

    def __init__(self, args: list[str], port: int, log: Path, cwd: Path) -> None:
        self.port, self.log = port, log
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PYTHONWARNINGS", None)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env
            )

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, model: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        ready = f"http://{self.url}/v2/models/{model}/ready"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(ready, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"server not ready in {timeout} s:\n{self.log.read_text()[-3000:]}"
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")


def start_kserve(artifact: Path, folder: Path) -> Process:
    port = free_port()
    args = [
        str(platform_python("kserve")),
        "-m",
        "featurekit.kserve",
        "--artifact",
        str(artifact),
        "--http_port",
        str(port),
        "--grpc_port",
        str(free_port()),
        "--enable_grpc",
        "false",
    ]
    return Process(args, port, folder / "kserve.log", folder)


def start_mlserver(artifact: Path, name: str, folder: Path) -> Process:
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": name,
        "implementation": "featurekit.mlserver.FeaturekitRuntime",
        "parameters": {"uri": str(artifact)},
    }
    (folder / "model-settings.json").write_text(json.dumps(model))
    mlserver = platform_python("mlserver").parent / "mlserver"
    return Process(
        [str(mlserver), "start", str(folder)], port, folder / "mlserver.log", folder
    )


def start_featurekit(artifact: Path, folder: Path) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "serving", str(artifact), "--port", str(port)]
    return Process(args, port, folder / "featurekit.log", folder)
