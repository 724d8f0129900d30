"""`Predictor`: load a verified artifact and score records with onnxruntime alone.

A long module (about 690 lines), kept whole on purpose: it is the one public scoring
API, whose typed overloads (``on_error`` "raise" or "split") and parameter docs take
most of its lines; the refusal table (`serving.split`), the log writer
(`serving.logging`), exploration (`featurekit.outcomes.exploration`), the NaN-answer
rule (`serving.answers`) and the batch-independence check
(`featurekit.golden.batches`) already live elsewhere, and splitting the overloads from
the class would split one API in two.

Serving never imports scikit-learn, skl2onnx or joblib, and never unpickles anything:
it reads the artifact with `featurekit.artifact.read` (every file's sha256 checked),
then runs the artifact's golden rows through its own onnxruntime session before it
scores anything (`featurekit.golden`).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from featurekit.artifact import Manifest, read
from featurekit.contract.columns import Columns
from featurekit.contract.failures import Tally
from featurekit.contract.schema import Contract
from featurekit.errors import ArtifactError
from featurekit.golden import (
    GoldenRows,
    Verification,
    check_mode,
    enforce,
    with_outputs,
)
from featurekit.golden import verify as run_golden
from featurekit.golden.batches import rows_independent
from featurekit.outcomes.exploration import Exploration
from featurekit.runtime import Session

from .answers import ANSWERS, NaNAnswers, nan_rows, unanswerable
from .consistency import check_graph, ort_version
from .monitor import Monitor
from .split import Split, check_ids, kept_ids, refuse_answered

if TYPE_CHECKING:
    from featurekit.outcomes.log import LogWriter

__all__ = ["Predictor", "Split"]


class Predictor:
    """Score records with an exported artifact, exactly as its certificate was proven.

    Use `Predictor.load`; the constructor is for artifacts already in memory.

    Attributes
    ----------
    name, version : str, int
        From the FeatureSet.
    kind : {"classifier", "regressor"}
    classes_ : ndarray
        Class labels, in the column order of `predict_proba` (classifiers only).
    sha256 : str
        The hash of ``model.onnx``, which identifies the model being served.
    manifest : dict
        Everything the artifact recorded, including the parity certificate.
    verification : Verification
        What the artifact's golden rows said about this machine's onnxruntime:
        ``status`` is "passed", "failed" (loaded with ``verify="warn"``), "off"
        (``verify="off"``) or "absent" (an artifact exported before golden rows).

    Examples
    --------
    >>> from serving import Predictor
    >>> Predictor.load("no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """

    def __init__(
        self,
        model: bytes,
        contract: Contract,
        manifest: Manifest,
        *,
        threads: int | None = None,
        profile: dict[str, Any] | None = None,
        monitor: bool | dict[str, Any] = True,
        golden: GoldenRows | None = None,
        verify: str = "strict",
        source: str | None = None,
        log: str | os.PathLike[str] | None = None,
        log_options: dict[str, Any] | None = None,
        explore: dict[str, Any] | None = None,
    ) -> None:
        check_mode(verify)
        features = contract.features
        self.profile = profile
        self.monitor: Monitor | None = None
        if profile is not None and monitor is not False:
            self.monitor = Monitor(
                profile, **(monitor if isinstance(monitor, dict) else {})
            )
        self.contract = contract
        self.features = features
        self.manifest = manifest
        self.name = features.name
        self.version = features.version
        self.kind = manifest["kind"]
        self.sha256 = manifest["files"]["model.onnx"]
        self.tally = Tally()
        # reading the input is pure except for the tally's counters: one lock keeps
        # concurrent requests from losing increments (onnxruntime runs outside it)
        self._lock = threading.Lock()
        self._columns = Columns(contract)
        for f in features.inputs:
            declared = manifest["inputs"].get(f.name, {}).get("type")
            if declared != self._columns.onnx_type(f):
                raise ArtifactError(
                    f"Artifact {self.name!r}: input {f.name!r} is typed {declared!r} in the "
                    f"manifest but {self._columns.onnx_type(f)!r} by features.json."
                )
        self.golden = golden
        self._source = source or f"{self.name!r} v{self.version}"
        # a tree model's golden rows compare its features too: the session exposes
        # that tensor (serving itself never asks for it)
        extra = [golden.features_output] if golden and golden.features_output else []
        try:
            self._session = Session(with_outputs(model, extra), threads=threads)
        except ValueError:  # a bad argument (threads): the caller's, said as it is
            raise
        except Exception as exc:  # onnxruntime's own errors derive from Exception only
            raise ArtifactError(
                f"Artifact {self._source}: onnxruntime {ort_version()} cannot load "
                f"model.onnx ({type(exc).__name__}: {str(exc)[:300]}). Re-export it, "
                "or serve it with the onnxruntime version it was exported with."
            ) from None
        self._output_names: tuple[str, ...] = tuple(manifest["outputs"])
        self._watched = tuple(
            o for o in ("probabilities", "prediction") if o in self._output_names
        )
        #: the numeric answer every run looks at for NaN (`serving.answers`)
        self._answer = next((o for o in ANSWERS if o in self._output_names), None)
        if self.kind == "classifier":
            classes = manifest["classes"] or []
            strings = any(isinstance(c, str) for c in classes)
            self.classes_ = np.asarray(classes, dtype=object if strings else None)
            self._n_classes = len(self.classes_)
        check_graph(
            self._session.inference_session,
            self._output_names,
            self.kind,
            getattr(self, "_n_classes", 0),
            self._source,
        )
        self.verification = Verification(
            "off", message="Golden rows not run (verify='off')."
        )
        if verify != "off":
            enforce(self.verify(), verify)
        self._explore: Exploration | None = None
        if explore is not None:
            if self.kind != "classifier":
                raise ValueError("Exploration serves decisions: it needs a classifier.")
            self._explore = Exploration(self.classes_.tolist(), **explore)
        self.log: LogWriter | None = None
        if log is not None:
            from .logging import open_log

            self.log = open_log(log, contract, manifest, log_options)
        # with both, the monitor's buffer carries the log's one-row calls too: they
        # are joined into columns once, for the drift counts and for the log
        self._tag_outputs: tuple[str, ...] | None = None
        if self.log is not None and self.monitor is not None:
            self._tag_outputs = tuple(
                o for o in self.log.logged_outputs if o not in self._watched
            )
            self.monitor.tap = self.log.append_calls
            self.log.before_flush = self.monitor.drain

    def verify(self) -> Verification:
        """Run the golden rows through this predictor's session and compare.

        `load` calls it (unless ``verify="off"``); call it again to re-check, e.g.
        after the machine's runtime changed. The rows are not counted in `tally`
        nor in the drift monitor.

        Returns
        -------
        Verification
            Also stored in `verification`. Never raises on a mismatch.
        """

        def run(records: list[dict[str, Any]], names: list[str]) -> Any:
            feeds, n = self._columns.coerce(records)
            return dict(zip(names, self._session.run(feeds, n, names), strict=True))

        self.verification = run_golden(
            self.golden,
            run,
            kind=self.kind,
            outputs=self._output_names,
            certificate=dict(self.manifest["certificate"]),
            artifact=self._source,
        )
        return self.verification

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        threads: int | None = None,
        monitor: bool | dict[str, Any] = True,
        verify: str = "strict",
        log: str | os.PathLike[str] | None = None,
        log_options: dict[str, Any] | None = None,
        explore: dict[str, Any] | None = None,
    ) -> Predictor:
        """Verify the artifact at `path`, build one session and run its golden rows.

        Parameters
        ----------
        path : str or Path
            The artifact directory `featurekit.export` wrote.
        threads : int, optional
            How many chunks of a large batch run at once (default: CPUs, at most 4).
            Each chunk runs single-threaded inside onnxruntime, which keeps tree sums
            in scikit-learn's order.
        monitor : bool or dict
            Count every scored row into drift windows (`serving.monitor.Monitor`)
            when the artifact has a profile. A dict passes options to `Monitor`,
            e.g. ``{"window": 500, "seconds": 60}``; False turns monitoring off.
        verify : {"strict", "warn", "off"}
            Run the artifact's golden rows (certified rows stored at export) through
            this machine's onnxruntime first. "strict" (default) refuses the
            artifact if any answers otherwise than certified: a label differs, a
            probability or prediction is beyond the certificate's tolerance, or a
            tree model's feature differs in a single bit. "warn" loads it with a
            `featurekit.errors.ParityWarning`; "off" does not run them. The outcome
            is in `verification`; an artifact exported before golden rows has none
            to run (status "absent").
        log : str or Path, optional
            A prediction log directory: every scored row is appended to it with its
            id, time, the model's identity, the inputs and the answers, as Parquet
            (docs/outcomes.md). Pass ``ids=`` when scoring to name rows by your own
            keys, so that late labels can be joined to them.
        log_options : dict, optional
            `serving.logging.open_log` options: ``retention`` ("30d"), ``pii``
            ("drop" or "hash"), ``flush_seconds``, ``max_buffered_rows``, ...
        explore : dict, optional
            Serve a share of a classifier's decisions by a fixed policy
            (`featurekit.outcomes.exploration.Exploration`: ``rate``, ``policy``
            "uniform" or "fallback", ``fallback``, ``seed``). `predict` then answers
            the served decisions, `score` adds ``explored`` per row, and the log
            records every decision's propensity (docs/outcomes.md).

        Raises
        ------
        ArtifactError
            The directory is missing, partial, tampered with, or of another format;
            or (``verify="strict"``) its golden rows answer otherwise here. The
            message then names the first differing row, the onnxruntime version and
            the CPU.
        """
        check_mode(verify)
        files = read(path, model=True)
        assert files.model is not None  # read(model=True) returns it
        return cls(
            files.model,
            files.contract,
            files.manifest,
            threads=threads,
            profile=files.profile,
            monitor=monitor,
            golden=files.golden,
            verify=verify,
            source=repr(str(files.path)),
            log=log,
            log_options=log_options,
            explore=explore,
        )

    def __repr__(self) -> str:
        return f"Predictor({self.name!r} v{self.version}, {self.kind}, sha256={self.sha256[:12]})"

    @property
    def session(self) -> Any:
        """The `onnxruntime.InferenceSession` (for inspection and benchmarks).

        For a tree model with golden rows, its outputs include the features tensor
        the golden rows compare, after `outputs`; scoring never asks for it.
        """
        return self._session.inference_session

    def _empty(self, output: str) -> np.ndarray:
        if output == "probabilities" or (
            output == "decision_function" and self._n_classes > 2
        ):
            return np.empty((0, self._n_classes), dtype=np.float64)
        dtype = self.classes_.dtype if output == "label" else np.float64
        return np.empty(0, dtype=dtype)

    @property
    def explores(self) -> bool:
        """Whether a share of decisions is served by an exploration policy."""
        return self._explore is not None

    @property
    def outputs(self) -> list[str]:
        """The graph's outputs, as scikit-learn's pipeline answered them.

        ``["prediction"]`` for a regressor; for a classifier ``"label"``, then
        ``"probabilities"`` if its model has ``predict_proba``, else
        ``"decision_function"`` if it has that (e.g. ``LinearSVC``).
        """
        return list(self._output_names)

    def _outputs(
        self,
        records: Any,
        outputs: list[str],
        on_error: str,
        ids: Any = None,
        request_id: str | None = None,
    ) -> Any:
        if on_error == "split":
            with self._lock:
                feeds, passed, index, failures = self._columns.split(
                    records, self.tally
                )
            kept = kept_ids(ids, passed)
            n = int(passed.sum())
            try:
                got = self._score(feeds, n, outputs, kept, request_id) if n else {}
            except NaNAnswers as exc:  # those rows join the refused ones
                feeds, passed, failures, kept, n = refuse_answered(
                    feeds, passed, index, failures, kept, exc.rows
                )
                got = self._score(feeds, n, outputs, kept, request_id) if n else {}
            scores = {name: got.get(name, self._empty(name)) for name in outputs}
            if "explored" in got:
                scores["explored"] = got["explored"]
            return Split(scores, passed, index, failures)
        if on_error != "raise":
            raise ValueError(f"on_error must be 'raise' or 'split', got {on_error!r}.")
        with self._lock:
            feeds, n = self._columns.coerce(records, tally=self.tally)
        check_ids(ids, n)
        if n == 0:
            return {name: self._empty(name) for name in outputs}
        try:
            return self._score(feeds, n, outputs, ids, request_id)
        except NaNAnswers as exc:
            # a DataFrame's rows by their labels, a list's by position
            labels = list(records.index) if hasattr(records, "columns") else range(n)
            raise unanswerable(
                self.features, [labels[i] for i in exc.rows.tolist()], n
            ) from None

    def _score(
        self,
        feeds: dict[str, np.ndarray],
        n: int,
        outputs: list[str],
        ids: Any = None,
        request_id: str | None = None,
    ) -> dict[str, np.ndarray]:
        log, explore, monitor = self.log, self._explore, self.monitor
        answer = self._answer
        if monitor is None and log is None and explore is None:
            names = (
                outputs if answer is None or answer in outputs else [*outputs, answer]
            )
            got = dict(zip(names, self._session.run(feeds, n, names), strict=True))
            bad = nan_rows(got.get(answer))  # type: ignore[arg-type]
            if bad is not None:
                raise NaNAnswers(bad)
            return {name: got[name] for name in outputs}
        # the monitor reads the probabilities (classes are their argmax) or the
        # prediction, whatever the caller asked for; a classifier without
        # probabilities is watched on its inputs alone. The log keeps every output.
        watched = self._watched
        if explore is not None:  # the decision served may be the policy's
            wanted: Sequence[str] = self._output_names
        elif log is not None:  # every output but a label the log derives itself
            wanted = log.logged_outputs
        else:
            wanted = watched
        names = outputs + [w for w in wanted if w not in outputs]
        if answer is not None and answer not in names:
            names.append(answer)
        got = dict(zip(names, self._session.run(feeds, n, names), strict=True))
        bad = nan_rows(got.get(answer))  # type: ignore[arg-type]
        if bad is not None:  # refused before the monitor and the log see them
            raise NaNAnswers(bad)
        tagged = self._tag_outputs  # outputs a tag carries, or None: no tags
        if tagged is not None and n == 1 and explore is None:
            # the monitor hands this row to the log with the rows it counts
            tag: tuple[Any, ...] = (
                time.time_ns(),
                request_id,
                None if ids is None else ids[0],
            )
            if tagged:  # outputs the monitor does not read
                tag = (*tag, {k: got[k] for k in tagged})
            assert monitor is not None
            monitor.observe(feeds, {w: got[w] for w in watched} or None, tag)
            return {name: got[name].copy() for name in outputs}
        if monitor is not None:
            if tagged is not None:  # one-row calls before it reach the log first
                monitor.drain(tagged=True)
            monitor.observe(feeds, {w: got[w] for w in watched} or None)
        extra = None
        if explore is not None:
            got["label"], extra = explore.apply(got["label"])
        if log is not None:  # every output, by name (the log picks them by name)
            if n == 1 and extra is None:
                log.append_row(feeds, got, None if ids is None else ids[0], request_id)
            else:
                log.append(feeds, got, ids=ids, request_id=request_id, extra=extra)
        # copies: the monitor and the log hold the graph's arrays until they count and
        # write them, and a caller may change what it was given in place
        held = log is not None or (monitor is not None and monitor.keeps(n))
        out = {name: got[name].copy() if held else got[name] for name in outputs}
        if extra is not None and "label" in outputs:
            out["explored"] = extra["explored"]
        return out

    def score_together(
        self, records: Sequence[Mapping[str, Any]], outputs: list[str]
    ) -> tuple[dict[str, np.ndarray], list[int], list[int]]:
        """Score single records in one run of the graph, each answered as if alone.

        For a server's concurrent one-record requests (`serving.batching`). Each
        record is read by the contract's one-row path (`Columns.one_row`) and counted
        in `tally` as if it came alone; the rows it accepts are then scored, and seen
        by the drift monitor, together. A record that path defers (a failure, or a
        form only the full path reads) is left out: the positions returned are those
        scored, in order, and the caller scores the others alone. The third list
        holds the positions the model answered NaN (`serving.answers`): read and
        counted once already, they are refused, as `unanswerable` says.

        Only for a predictor with no log and no exploration policy, whose graph
        answers a row the same alone and in a batch (`rows_independent`).
        """
        if self.log is not None or self._explore is not None:
            raise ValueError(
                "score_together is for a predictor without a log or exploration."
            )
        parts: list[dict[str, np.ndarray]] = []
        kept: list[int] = []
        with self._lock:
            for i, record in enumerate(records):
                feeds = self._columns.one_row(record, self.tally)
                if feeds is not None:
                    parts.append(feeds)
                    kept.append(i)
        if not parts:
            return {}, kept, []
        joined = parts[0]
        if len(parts) > 1:
            joined = {k: np.concatenate([f[k] for f in parts]) for k in parts[0]}
        try:
            return self._score(joined, len(parts), outputs), kept, []
        except NaNAnswers as exc:  # refused; the others are scored again
            refused = [kept[j] for j in exc.rows.tolist()]
            keep = np.setdiff1d(np.arange(len(parts)), exc.rows)
            kept = [kept[j] for j in keep.tolist()]
            if not kept:
                return {}, kept, refused
            joined = {k: v[keep] for k, v in joined.items()}
            return self._score(joined, len(kept), outputs), kept, refused

    @functools.cached_property
    def rows_independent(self) -> bool:
        """Whether this session answers each golden row the same alone and in batches.

        `featurekit.golden.batches.rows_independent`, run once; the server scores
        concurrent one-record requests together only when it holds.
        """
        names = list(self._output_names)

        def run(records: list[dict[str, Any]], names: list[str]) -> Any:
            feeds, n = self._columns.coerce(
                records[0] if len(records) == 1 else records
            )
            return self._session.run(feeds, n, names)

        return rows_independent(self.golden, run, names)

    def _run(
        self, records: Any, output: str, on_error: str, ids: Any = None
    ) -> np.ndarray | Split:
        got = self._outputs(records, [output], on_error, ids)
        if isinstance(got, Split):
            got.scores = got.scores[output]
            return got
        out: np.ndarray = got[output]
        return out

    def close(self) -> None:
        """Write what the prediction log holds and stop its writer (if logging)."""
        if self.log is not None:
            self.log.close()

    def score(
        self,
        records: Any,
        outputs: list[str] | None = None,
        *,
        on_error: str = "raise",
        ids: Any = None,
        request_id: str | None = None,
    ) -> dict[str, np.ndarray] | Split:
        """Every requested output from one run of the graph.

        Parameters
        ----------
        records : DataFrame, list of dict, or dict
            As in `predict`.
        outputs : list of str, optional
            Names from `outputs` (default: all of them).
        on_error : {"raise", "split"}
            As in `predict`; a `Split` then holds a dict of arrays in ``scores``.
        ids : sequence, optional
            As in `predict`.
        request_id : str, optional
            Logged with the rows (the server passes its request id).

        Returns
        -------
        dict of str to ndarray, or Split
        """
        known = self._output_names
        names = list(known) if outputs is None else list(outputs)
        if not names or any(o not in known for o in names):
            raise ValueError(
                f"Model {self.name!r} has the outputs {list(known)!r}; asked for "
                f"{names!r}. Pick from {list(known)!r}."
            )
        got: dict[str, np.ndarray] | Split = self._outputs(
            records, names, on_error, ids, request_id
        )
        return got

    @overload
    def predict(
        self, records: Any, *, on_error: Literal["raise"] = "raise", ids: Any = None
    ) -> np.ndarray: ...
    @overload
    def predict(
        self, records: Any, *, on_error: Literal["split"], ids: Any = None
    ) -> Split: ...
    @overload
    def predict(
        self, records: Any, *, on_error: str, ids: Any = None
    ) -> np.ndarray | Split: ...
    def predict(
        self, records: Any, *, on_error: str = "raise", ids: Any = None
    ) -> np.ndarray | Split:
        """Labels (classifiers) or predictions (regressors), one per record.

        Parameters
        ----------
        records : DataFrame, list of dict, or dict
            Raw input columns, as in training. Extra columns are ignored and counted
            in `tally` (or rejected, for a strict FeatureSet).
        on_error : {"raise", "split"}
            "raise" (default): any failure raises and nothing is scored. "split":
            score the rows that pass and return a `Split` holding them and the
            failure table of the others.
        ids : sequence, optional
            One id per record (for example a loan id), logged with each scored row
            when the predictor has a prediction log, so that labels arriving later
            join to them. Without them the log names rows ``<request id>-<row>``.

        Raises
        ------
        featurekit.ContractError
            A value is of the wrong type, missing where not allowed, an unknown
            category under ``unknown="error"``, infinite or outside a range the
            contract enforces. Nothing is scored.
        """
        return self._run(
            records,
            "label" if self.kind == "classifier" else "prediction",
            on_error,
            ids,
        )

    @overload
    def predict_proba(
        self, records: Any, *, on_error: Literal["raise"] = "raise", ids: Any = None
    ) -> np.ndarray: ...
    @overload
    def predict_proba(
        self, records: Any, *, on_error: Literal["split"], ids: Any = None
    ) -> Split: ...
    @overload
    def predict_proba(
        self, records: Any, *, on_error: str, ids: Any = None
    ) -> np.ndarray | Split: ...
    def predict_proba(
        self, records: Any, *, on_error: str = "raise", ids: Any = None
    ) -> np.ndarray | Split:
        """Class probabilities, columns in `classes_` order; see `predict`.

        Raises
        ------
        featurekit.ArtifactError
            The artifact holds no probabilities: its model has no ``predict_proba``
            (``LinearSVC``, ``RidgeClassifier``, ``SVC()``, ...). `outputs` lists
            what it answers.
        """
        if self.kind != "classifier":
            raise AttributeError(
                f"{self.name!r} is a regressor; it has predict but no predict_proba."
            )
        self._require("probabilities")
        return self._run(records, "probabilities", on_error, ids)

    @overload
    def decision_function(
        self, records: Any, *, on_error: Literal["raise"] = "raise", ids: Any = None
    ) -> np.ndarray: ...
    @overload
    def decision_function(
        self, records: Any, *, on_error: Literal["split"], ids: Any = None
    ) -> Split: ...
    @overload
    def decision_function(
        self, records: Any, *, on_error: str, ids: Any = None
    ) -> np.ndarray | Split: ...
    def decision_function(
        self, records: Any, *, on_error: str = "raise", ids: Any = None
    ) -> np.ndarray | Split:
        """scikit-learn's ``decision_function``: (N,) for two classes, else (N, K).

        Exported for classifiers without ``predict_proba`` (``LinearSVC``,
        ``RidgeClassifier``, ``Perceptron``, ``SVC()``, ...); see `predict`.

        Raises
        ------
        featurekit.ArtifactError
            The artifact holds no decision function (see `outputs`).
        """
        self._require("decision_function")
        return self._run(records, "decision_function", on_error, ids)

    def _require(self, output: str) -> None:
        if output in self._output_names:
            return
        have = list(self._output_names)
        if output == "probabilities":
            hint = (
                "its model has no predict_proba, so none were exported. Use predict"
                + (" or decision_function" if "decision_function" in have else "")
                + ", or export a model with predict_proba (e.g. "
                "CalibratedClassifierCV(LinearSVC()))."
            )
        else:
            hint = (
                "featurekit exports the decision function of classifiers without "
                "predict_proba only. Use predict"
                + (" or predict_proba." if "probabilities" in have else ".")
            )
        raise ArtifactError(
            f"Artifact {self._source} answers {have!r}, not {output!r}: {hint}"
        )

    def describe(self) -> str:
        """A short human summary of the model and its certificate."""
        c = self.manifest["certificate"]
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "kind": self.kind,
                "certificate": c,
            },
            indent=2,
        )
