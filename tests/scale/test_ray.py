"""featurekit.ray on a real local Ray: an actor pool, row for row what Predictor gives."""

from __future__ import annotations

import pandas as pd
import pytest
from scale_data import assert_scored_as_predictor, refused_rows, scale_frame

fkr = pytest.importorskip("featurekit.ray")

# Ray Data's DataContext reads its own deprecated settings when it is created
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


def blocks(ray, frame: pd.DataFrame, n: int = 4):
    """A Dataset of `n` blocks, so that both actors get work."""
    size = -(-len(frame) // n)
    return ray.data.from_pandas(
        [frame.iloc[k * size : (k + 1) * size] for k in range(n)]
    )


def test_predict_equals_the_single_process_predictor_row_for_row(
    ray_local, scale_artifact
):
    frame = refused_rows(scale_frame(600, seed=3))
    out = fkr.predict(blocks(ray_local, frame), scale_artifact, actors=2)
    got = out.to_pandas().sort_values("id", ignore_index=True)
    assert_scored_as_predictor(got, frame, scale_artifact)
    refused = got[~got["contract_passed"]]
    assert refused["label"].isna().all() and refused["probabilities"].isna().all()
    assert refused["contract_failures"].tolist() == [
        "plan: isin(['basic', 'plus', 'premium']) ('gold')",
        "age: in_range(18, 120) (7)",
        "income: greater_than_or_equal_to(0) (-5.0)",
    ]


def test_missing_input_column_is_refused_before_any_actor(ray_local, scale_artifact):
    ds = blocks(ray_local, scale_frame(8, seed=1).drop(columns=["age"]), 2)
    with pytest.raises(ValueError, match=r"no column \['age'\]"):
        fkr.predict(ds, scale_artifact)


@pytest.mark.parametrize("actors", [0, True])
def test_actor_count_must_be_positive(ray_local, scale_artifact, actors):
    ds = blocks(ray_local, scale_frame(8, seed=1), 2)
    with pytest.raises(ValueError, match="actors must be a positive int"):
        fkr.predict(ds, scale_artifact, actors=actors)
