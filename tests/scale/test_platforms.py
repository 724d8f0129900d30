"""KServe and MLServer runtimes, run in their real servers and asked with tritonclient.

Each answers what ``featurekit serve`` answers for the same request: the same outputs
for rows that pass, 422 for rows the contract refuses, 400 for a malformed request.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.http as http
from platform_servers import (
    platform_python,
    start_featurekit,
    start_kserve,
    start_mlserver,
)
from scale_data import scale_frame
from tritonclient.utils import InferenceServerException

from serving import Predictor

pytestmark = pytest.mark.filterwarnings(
    # tritonclient's gevent-based HTTP client on a loopback connection
    "ignore::ResourceWarning"
)

ROWS = scale_frame(12, seed=9).dropna().drop(columns="id").reset_index(drop=True)
TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}


@pytest.fixture(scope="module")
def servers(scale_artifact, tmp_path_factory):
    with ThreadPoolExecutor(2) as pool:  # first run: both venvs fill at once
        list(pool.map(platform_python, ["kserve", "mlserver"]))
    started = {
        "featurekit": start_featurekit(scale_artifact, tmp_path_factory.mktemp("fk")),
        "kserve": start_kserve(scale_artifact, tmp_path_factory.mktemp("kserve")),
        "mlserver": start_mlserver(
            scale_artifact, "loans", tmp_path_factory.mktemp("mlserver")
        ),
    }
    try:
        for server in started.values():
            server.wait_ready("loans")
        yield started
    finally:
        logs = {name: server.stop() for name, server in started.items()}
    assert "Traceback" not in logs["featurekit"], logs["featurekit"]


def request(frame, **override):
    inputs = []
    for name, datatype in TYPES.items():
        values = override.get(name, frame[name].to_numpy())
        values = np.asarray(values, dtype=object if datatype == "BYTES" else None)
        tensor = http.InferInput(name, [len(values)], datatype)
        tensor.set_data_from_numpy(values, binary_data=False)
        inputs.append(tensor)
    return inputs


def ask(server, inputs):
    client = http.InferenceServerClient(server.url)
    try:
        outputs = [
            http.InferRequestedOutput(name, binary_data=False)
            for name in ("label", "probabilities")
        ]
        # KServe reads a body without this header as binary tensor data
        headers = {"Content-Type": "application/json"}
        return client.infer("loans", inputs, outputs=outputs, headers=headers)
    finally:
        client.close()


@pytest.mark.parametrize("platform", ["kserve", "mlserver"])
def test_answers_what_featurekit_serve_and_predictor_answer(
    servers, scale_artifact, platform
):
    got = ask(servers[platform], request(ROWS))
    reference = ask(servers["featurekit"], request(ROWS))
    expected = Predictor.load(scale_artifact, monitor=False).score(ROWS)
    for name in ("label", "probabilities"):
        np.testing.assert_array_equal(got.as_numpy(name), expected[name])
        np.testing.assert_array_equal(got.as_numpy(name), reference.as_numpy(name))


@pytest.mark.parametrize("platform", ["featurekit", "kserve", "mlserver"])
def test_a_contract_failure_is_a_422_naming_it(servers, platform):
    plans = ROWS["plan"].to_numpy().copy()
    plans[1] = "gold"
    with pytest.raises(InferenceServerException) as caught:
        ask(servers[platform], request(ROWS, plan=plans))
    assert caught.value.status() == "422"
    assert "failed the contract of 'loans' v3" in caught.value.message()
    assert "'gold'" in caught.value.message()


@pytest.mark.parametrize("platform", ["featurekit", "kserve", "mlserver"])
def test_a_malformed_request_is_a_400(servers, platform):
    with pytest.raises(InferenceServerException) as caught:
        ask(servers[platform], request(ROWS, age=[30, 40]))  # 2 ages, 8 incomes
    assert caught.value.status() == "400"


def _metadata(server):
    client = http.InferenceServerClient(server.url)
    try:
        return client.get_model_metadata("loans")
    finally:
        client.close()


@pytest.mark.parametrize("platform", ["kserve", "mlserver"])
def test_lists_the_inputs_and_outputs_featurekit_serve_lists(servers, platform):
    got = _metadata(servers[platform])
    reference = _metadata(servers["featurekit"])
    assert got["inputs"] == reference["inputs"]
    assert got["outputs"] == reference["outputs"]
    assert {t["name"]: t["datatype"] for t in got["inputs"]} == TYPES
    assert {t["name"]: t["shape"] for t in got["outputs"]} == {
        "label": [-1],
        "probabilities": [-1, 2],
    }
