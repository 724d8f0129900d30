"""An artifact and its data shared by the scale-out tests (Triton, Spark, Ray, servers)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# test modules import these from scale_data: a conftest cannot be imported by name
from scale_data import SCALE_FEATURES, scale_frame
from sklearn.ensemble import RandomForestClassifier

import featurekit as fk

# conftest modules share one name: doctest collection must not import them as tests
collect_ignore = ["conftest.py", "scale_data.py"]


@pytest.fixture(scope="session")
def scale_artifact(tmp_path_factory) -> Path:
    """A small forest (a tree graph: exact sums matter) with int classes."""
    frame = scale_frame(400, seed=0)
    y = np.where(
        (frame["income"].fillna(36000) > 36000) ^ (frame["plan"] == "premium"), 1, 0
    )
    pipe = fk.make_pipeline(
        SCALE_FEATURES,
        RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0),
    )
    pipe.fit(frame.drop(columns="id"), y)
    path = tmp_path_factory.mktemp("scale") / "loans"
    fk.export(pipe, path, reference=frame.drop(columns="id"))
    return path


@pytest.fixture(scope="session")
def spark(system_tool):
    """One local Spark (two cores) for every Spark test; its workers run this Python."""
    system_tool("java", "openjdk-17-jre-headless", "the JVM of a local Spark")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    # the workers must import featurekit from this venv, not whatever python3 is
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("featurekit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # toPandas through Arrow passes pandas 3 a deprecated copy= (pyspark 4.3)
        .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray (two CPUs, no dashboard) for the Ray tests."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()
