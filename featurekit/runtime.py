"""Run an exported graph with onnxruntime: one session, deterministic sums, parallel chunks.

Light core: imports onnxruntime and numpy, never scikit-learn.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["Session"]

#: Rows per chunk when a large batch is split across threads.
CHUNK_ROWS = 16384


class Session:
    """An onnxruntime session plus a pool that scores large batches in parallel.

    Each ``run`` is single-threaded inside onnxruntime: its tree kernels otherwise split
    small batches across threads and add partial sums in a different order than
    scikit-learn, which can flip exact ties. Large batches are cut into chunks that
    run concurrently instead, so throughput still uses every core.

    Parameters
    ----------
    model : bytes
        The serialised ONNX model.
    threads : int, optional
        Chunks scored at once. Defaults to the number of CPUs, at most 4.
    """

    def __init__(self, model: bytes, threads: int | None = None) -> None:
        import onnxruntime as ort

        if threads is None:
            threads = min(os.cpu_count() or 1, 4)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int, got {threads!r}.")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.threads = threads
        # NoopElimination drops an Add/Sub/Mul/Div by a double constant that is 0 or 1
        # once rounded to float32 (a scaler's scale_ of 1 + 1e-9): the graph would
        # then compute something else than scikit-learn
        self._session = ort.InferenceSession(
            model,
            opts,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["NoopElimination"],
        )
        self.output_names = [o.name for o in self._session.get_outputs()]
        self._pool: ThreadPoolExecutor | None = None
        # the session's compiled runner: InferenceSession.run checks the feeds' names
        # in Python first (a few µs, a tenth of a one-row run); the runner refuses an
        # unknown input itself, and feeds of another count take the checked path
        self._n_inputs = len(self._session.get_inputs())
        self._runner = getattr(self._session, "_sess", None)
        if not callable(getattr(self._runner, "run", None)):
            self._runner = None

    @property
    def inference_session(self) -> Any:
        """The underlying `onnxruntime.InferenceSession`."""
        return self._session

    def run(
        self,
        feeds: dict[str, np.ndarray],
        n_rows: int,
        outputs: list[str] | None = None,
    ) -> list[np.ndarray]:
        """Run the graph on `feeds` and return `outputs` (all by default)."""
        names = outputs or self.output_names
        if n_rows <= CHUNK_ROWS or self.threads == 1:
            if self._runner is not None and len(feeds) == self._n_inputs:
                return self._runner.run(names, feeds, None)  # type: ignore[no-any-return]
            return self._session.run(names, feeds)  # type: ignore[no-any-return]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.threads, thread_name_prefix="featurekit"
            )
        starts = range(0, n_rows, CHUNK_ROWS)
        parts = list(
            self._pool.map(
                lambda s: self._session.run(
                    names, {k: v[s : s + CHUNK_ROWS] for k, v in feeds.items()}
                ),
                starts,
            )
        )
        return [np.concatenate([p[i] for p in parts]) for i in range(len(names))]
