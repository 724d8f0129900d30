"""No estimator of docs/models.md regresses: exported ones still export, none escapes raw.

The cases are those of ``bench/model_coverage.py`` (``bench/_model_cases.py``, loaded
by path), fitted here on smaller samples of the same tables so the whole table runs in
about a minute.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

ROOT = Path(__file__).resolve().parents[2]
#: Rows per table: enough for every class in every cross-validation fold.
ROWS = {"classification": 150, "regression": 150}


def _cases() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_model_cases", ROOT / "bench" / "_model_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_model_cases", module)
    spec.loader.exec_module(module)
    return module


CASES = _cases()


def _listed() -> dict[str, str]:
    """Estimator -> status, as the table in docs/models.md lists them."""
    text = (ROOT / "docs" / "models.md").read_text()
    rows = re.findall(
        r"^\| `([^`]+)` \| [a-z]+\. \| (exported|refused|raw) \|", text, re.M
    )
    return {name.removesuffix(" ⁺"): status for name, status in rows}


LISTED = _listed()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    with threadpool_limits(1):  # small fits: thread pools cost more than they save
        yield


def test_docs_list_every_case_and_no_raw_error() -> None:
    assert sorted(LISTED) == sorted(c.name for c in CASES.CASES)
    assert "raw" not in LISTED.values()
    issue = [c for c in CASES.CASES if c.issue]
    assert len(issue) == 37
    exported = [c for c in CASES.CASES if LISTED[c.name] == "exported"]
    assert len(exported) >= 0.95 * len(CASES.CASES)


# scikit-learn 1.9 deprecates SVC(probability=True); skl2onnx reads its probA_
@pytest.mark.filterwarnings("ignore:Attribute `prob:FutureWarning")
@pytest.mark.parametrize("case", CASES.CASES, ids=lambda c: c.name)
def test_listed_estimator_exports_or_is_refused_in_featurekits_words(
    case: Any, tmp_path: Path
) -> None:
    features, frame, y = CASES.data(case.task, n=ROWS[case.task])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the quick fits
        pipe = fk.make_pipeline(features, case.make()).fit(frame, y)
    if LISTED[case.name] != "exported":
        try:  # refused on the table's data; on this sample it may pass
            fk.export(pipe, tmp_path / "a", reference=frame)
        except fk.ExportError:
            pass
        return

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    assert art.certificate["max_abs_diff"] <= 1e-5
    p = Predictor.load(art.path, monitor=False)
    rows = frame.iloc[:40]
    if case.task == "classification":
        np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    else:
        np.testing.assert_allclose(p.predict(rows), pipe.predict(rows), rtol=1e-9)
