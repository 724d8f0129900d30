"""Score a Ray Dataset with an artifact: `predict` (``featurekit[ray]``).

``map_batches`` runs over a pool of actors, each holding one `serving.Predictor`
built in the actor itself from the artifact's bytes (read and verified once on the
driver, `featurekit.batches.ship`), its golden rows run there. Batches are Arrow
tables: the input columns pass through as they are, the outputs and the contract's
verdict are appended, and a refused row stays with its reason, as in
`featurekit.spark.predict`.
"""

from __future__ import annotations

from typing import Any

from featurekit.batches import (
    added_columns,
    check_columns,
    load_shipped,
    score_batch,
    ship,
    worker_threads,
)

__all__ = ["predict"]


class _Scorer:
    """One actor of the pool: its own Predictor, built once, then batch after batch."""

    def __init__(
        self,
        files: dict[str, bytes],
        inputs: list[str],
        outputs: list[str],
        cpus: Any,
        verify: str,
    ) -> None:
        self.predictor = load_shipped(
            files, threads=worker_threads(cpus), verify=verify
        )
        self.inputs, self.outputs = inputs, outputs

    def __call__(self, batch: Any) -> Any:
        return score_batch(self.predictor, batch, self.inputs, self.outputs)


def predict(
    ds: Any,
    artifact: Any,
    *,
    actors: int = 2,
    cpus_per_actor: int = 1,
    batch_size: int | None = 10_000,
    verify: str = "strict",
) -> Any:
    """Score a Ray Dataset; refused rows stay, with their reason.

    Parameters
    ----------
    ds : ray.data.Dataset
        Holds the artifact's input columns (by name); any other column passes
        through.
    artifact : str, Path or Artifact
        The artifact directory, readable by the driver.
    actors : int
        Actors in the pool, each with one onnxruntime session.
    cpus_per_actor : int
        Cores Ray reserves per actor; the predictor's threads (never 0).
    batch_size : int, optional
        Rows per batch handed to an actor.
    verify : {"strict", "warn", "off"}
        What each actor does with the artifact's golden rows.

    Returns
    -------
    ray.data.Dataset
        Every input column, then the model's outputs (null on a refused row),
        ``contract_passed`` and ``contract_failures``, as `featurekit.spark.predict`.

    Raises
    ------
    ValueError
        An input column is absent, or an output's name is taken by an input column.

    Examples
    --------
    >>> predict(None, "no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    files, manifest = ship(artifact)
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be a positive int, got {actors!r}.")
    inputs = check_columns(ds.columns(), manifest, added_columns(manifest))
    return ds.map_batches(
        _Scorer,
        fn_constructor_kwargs={
            "files": files,
            "inputs": inputs,
            "outputs": list(manifest["outputs"]),
            "cpus": cpus_per_actor,
            "verify": verify,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=actors,
        num_cpus=cpus_per_actor,
        zero_copy_batch=True,
    )
