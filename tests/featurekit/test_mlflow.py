"""MLflow end to end: a real local tracking store (sqlite), the pyfunc flavour, models:/ URIs.

MLflow's pins clash with the dev lock (opentelemetry), so a session fixture builds a
virtualenv of its own, with MLflow from the package index on top of this venv's
packages (a ``.pth`` file adds them after its own). Everything MLflow runs in that
venv's Python, as a subprocess; the artifacts are exported here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from serving import Predictor
from tests.serving.live_server import start_server

#: What the fixture installs (the newest at the time; featurekit[mlflow] asks >=3.4).
MLFLOW = ["mlflow-skinny==3.18.0", "sqlalchemy>=2", "alembic>=1.13"]
FEATURES = fk.FeatureSet("loans", [fk.Numeric("x"), fk.Categorical("g")])


@pytest.fixture(scope="session")
def mlflow_python(tmp_path_factory) -> str:
    """A venv with MLflow and sqlite support over this venv's packages."""
    venv = tmp_path_factory.mktemp("mlflow-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir also reads this venv's .pth files: the editable featurekit is one
    Path(own, "zz_featurekit_dev.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", *MLFLOW],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, f"installing MLflow failed:\n{done.stderr[-3000:]}"
    return python


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["u", "v"], n)})
    return X, (X["x"] + rng.normal(0, 0.5, n) > 0).astype(int).to_numpy()


@pytest.fixture(scope="session")
def registry(mlflow_python, tmp_path_factory) -> dict[str, object]:
    """Two artifacts registered as ``loans`` v1 (@champion) and v2 (@challenger)."""
    root = tmp_path_factory.mktemp("mlflow")
    X, y = _frame(1500, 0)
    paths = {}
    for name, labels in (("weak", (X["x"] > 0.8).astype(int)), ("strong", y)):
        pipe = fk.make_pipeline(FEATURES, LogisticRegression()).fit(X, labels)
        paths[name] = fk.export(pipe, root / name, reference=X).path
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    script = f"""
import mlflow
from mlflow import MlflowClient
from featurekit.mlflow_pyfunc import log_model
for path in {[str(paths["weak"]), str(paths["strong"])]!r}:
    with mlflow.start_run():
        log_model(path, registered_model_name="loans")
client = MlflowClient()
client.set_registered_model_alias("loans", "champion", 1)
client.set_registered_model_alias("loans", "challenger", 2)
"""
    _python(mlflow_python, script, env, root)
    return {"root": root, "env": env, "paths": paths}


def _python(python: str, script: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [python, "-c", script], cwd=cwd, env={**os.environ, **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def test_pyfunc_serves_through_predictor_and_unpickles_nothing(mlflow_python, registry):
    X, _ = _frame(50, 1)
    data = registry["root"] / "rows.json"
    X.to_json(data, orient="records")
    script = f"""
import json, sys, pandas as pd, mlflow
model = mlflow.pyfunc.load_model("models:/loans@challenger")
rows = pd.read_json({str(data)!r}, orient="records", dtype=False)
print(json.dumps({{
    "labels": model.predict(rows).tolist(),
    "proba": model.predict(rows, params={{"output": "probabilities"}}).to_dict("list"),
    "sklearn": sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "joblib")),
    "pickles": [str(p) for p in __import__("pathlib").Path(model.metadata.artifact_path
                or ".").rglob("*.pkl")],
}}))
"""
    got = json.loads(_python(mlflow_python, script, registry["env"], registry["root"]))
    served = Predictor.load(registry["paths"]["strong"])
    assert got["labels"] == served.predict(X).tolist()
    assert np.allclose(got["proba"]["1"], served.predict_proba(X)[:, 1])
    assert got["sklearn"] == []  # neither imported, let alone unpickled
    assert got["pickles"] == []


def test_logged_model_is_code_and_the_artifact_as_exported(mlflow_python, registry):
    script = """
import json, mlflow
from pathlib import Path
local = Path(mlflow.artifacts.download_artifacts("models:/loans@champion"))
print(json.dumps(sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())))
"""
    files = json.loads(
        _python(mlflow_python, script, registry["env"], registry["root"])
    )
    assert "featurekit_model.py" in files  # MLflow's models from code: no pickle
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]
    exported = sorted(p.name for p in registry["paths"]["weak"].iterdir())
    assert sorted(Path(f).name for f in files if f.startswith("artifacts/")) == exported


def test_compare_takes_registry_aliases(mlflow_python, registry):
    X, y = _frame(2000, 2)
    data = registry["root"] / "labelled.csv"
    X.assign(y=y).to_csv(data, index=False)
    done = subprocess.run(
        [mlflow_python, "-m", "featurekit", "compare", "models:/loans@champion",
         "models:/loans@challenger", str(data), "--label-column", "y", "--json"],
        cwd=registry["root"], env={**os.environ, **registry["env"]},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    got = json.loads(done.stdout)
    assert got["verdict"] == "promote"
    sha = {p: Predictor.load(p).sha256 for p in registry["paths"].values()}
    assert got["models"]["champion"]["sha256"] == sha[registry["paths"]["weak"]]
    assert got["models"]["challenger"]["sha256"] == sha[registry["paths"]["strong"]]


def test_an_alias_that_names_nothing_is_a_one_line_error(mlflow_python, registry):
    done = subprocess.run(
        [mlflow_python, "-m", "featurekit", "compare", "models:/loans@nobody",
         "models:/loans@challenger", "x.csv", "--label-column", "y"],
        cwd=registry["root"], env={**os.environ, **registry["env"]},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Cannot fetch the MLflow model 'models:/loans@nobody'" in done.stderr


def test_serve_takes_a_registry_alias(mlflow_python, registry, tmp_path):
    server = start_server(
        "models:/loans@challenger",
        tmp_path / "server.log",
        command=(mlflow_python, "-m", "featurekit", "serve"),
        env=registry["env"],
    )
    try:
        records = [{"x": 1.5, "g": "u"}, {"x": -1.5, "g": "v"}]
        body = json.dumps({"records": records}).encode()
        request = urllib.request.Request(
            server.url + "/predict", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            answer = json.loads(r.read())
        status, meta = server.get("/v2/models/loans")
    finally:
        # uvicorn drains, then re-raises SIGTERM: a graceful stop either way
        stopped = server.stop()
        log = server.log.read_text()
        assert stopped in (0, -signal.SIGTERM), log[-3000:]
        assert "Application shutdown complete." in log
    assert answer["labels"] == [1, 0], answer
    strong = Predictor.load(registry["paths"]["strong"])
    assert answer["model"]["sha256"] == strong.sha256  # the challenger, as registered
    assert status == 200, meta


def test_without_mlflow_a_model_uri_says_what_to_install(capsys):
    from featurekit.cli import main

    if _importable("mlflow"):  # the dev venv has no MLflow (see the module docstring)
        pytest.skip("MLflow is installed in this venv")
    argv = ["compare", "models:/a@b", "models:/a@c", "x.csv", "--label-column", "y"]
    assert main(argv) == 2
    assert "pip install 'featurekit[mlflow]'" in capsys.readouterr().err


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
