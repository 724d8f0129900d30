"""`AppState`: one app's model, limits, metrics and worker threads, for the routes.

Every route reaches the state of its app with `state_of`. Bodies are read on the
event loop with a size limit and a timeout (`serving.bodies`); decoding, the contract
check, the model and encoding then run together on the state's worker threads
(`AppState.run`), so inference never blocks the loop.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from featurekit.errors import ContractError
from featurekit.golden import check_mode, enforce
from featurekit.outcomes.online import Online

from . import bodies
from .batching import Batcher, BatchingCollector
from .ids import request_id as make_request_id
from .ids import row_ids
from .limits import ADMIN_TOKEN_ENV, Limits
from .metrics import Metrics
from .oip import RequestError, decode_infer
from .predictor import Predictor
from .responses import (
    bad_request,
    contract_error,
    forbidden,
    not_found,
    protocol_error,
    too_large,
    unauthorized,
    unavailable,
)
from .shadow import Shadow, ShadowCollector
from .split import Split

__all__ = ["AppState", "parse_json", "state_of"]

_log = logging.getLogger("featurekit.serving")


class AppState:
    """The model one app serves (once loaded), its limits, metrics and threads.

    Parameters
    ----------
    limits : Limits
        Body size, rows per request and timeout.
    """

    def __init__(self, limits: Limits, admin_token: str | None = None) -> None:
        self.limits = limits
        #: What admin routes (POST /monitor/snapshot) require as ``Bearer``; None
        #: closes them.
        self.admin_token = admin_token or None
        self.executor = ThreadPoolExecutor(
            max(4, 2 * (os.cpu_count() or 1)), thread_name_prefix="featurekit-http"
        )
        self.metrics = Metrics()
        self.predictor: Predictor | None = None
        self.model_header: bytes | None = None
        #: Why the background load failed, for the 503 of every request after it.
        self.load_error: str | None = None
        #: Where the model came from and how it was loaded, for `reload`.
        self._source: tuple[str | os.PathLike[str], dict[str, Any]] | None = None
        self._reloading = threading.Lock()
        #: The last reload's outcome: {"ok": bool, "reason": str}.
        self.last_reload: dict[str, Any] | None = None
        #: Labels joined to served answers, when the model logs (``--log``).
        self.online: Online | None = None
        #: The challenger scoring every request off the response path (``--shadow``).
        self.shadow: Shadow | None = None
        #: Why the shadow did not load (the champion serves regardless).
        self.shadow_error: str | None = None
        self.metrics.add_collector(ShadowCollector(self))
        #: Whether concurrent one-record /predict requests may be scored together
        #: (`serving.batching`).
        self.batching = True
        #: The model's `serving.batching.Batcher`, made by the first request.
        self.batcher: Batcher | None = None
        self.metrics.add_collector(BatchingCollector(self))

    def require_admin(self, request: Request) -> None:
        """Let an admin route through only with this server's admin token."""
        if self.admin_token is None:
            raise forbidden(
                f"{request.method} {request.url.path} is closed: start the server "
                f"with the environment variable {ADMIN_TOKEN_ENV} set, and send "
                "'Authorization: Bearer <token>'."
            )
        sent = request.headers.get("authorization", "")
        scheme, _, token = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.admin_token.encode()
        ):
            raise unauthorized(
                f"{request.method} {request.url.path} needs this server's admin "
                "token: 'Authorization: Bearer <token>'."
            )

    # -- the model -------------------------------------------------------------------
    def attach(self, predictor: Predictor) -> None:
        self.metrics.bind(predictor)
        if self.batching and predictor.log is None and not predictor.explores:
            _ = predictor.rows_independent  # checked here, off the requests' path
        if predictor.log is not None:
            holdout = dict(predictor.manifest.get("holdout") or {})
            online = self.online
            if online is None or online.holdout != holdout:
                self.online = Online(
                    predictor.kind, predictor.manifest.get("classes"), holdout=holdout
                )
        self.metrics.online = self.online
        #: every response names the model that answered: name/version/sha256
        self.model_header = (
            f"{predictor.name}/{predictor.version}/{predictor.sha256}".encode()
        )
        self.predictor = predictor  # last: requests see a fully attached model

    def load(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int | None,
        monitor: bool | dict[str, Any],
        verify: str = "strict",
        log: dict[str, Any] | None = None,
        explore: dict[str, Any] | None = None,
    ) -> None:
        """Load and attach the artifact at `path`, or remember why it failed.

        The golden rows run here rather than inside `Predictor.load`, so that their
        verdict reaches the metrics even when ``verify="strict"`` refuses the model.
        """
        self._source = (
            path,
            {
                "threads": threads,
                "monitor": monitor,
                "verify": verify,
                "log": log,
                "explore": explore,
            },
        )
        try:
            self.attach(self._checked(path, threads, monitor, verify, log, explore))
        # whatever stops the load (onnxruntime refusing the graph, a manifest without
        # an entry) is the reason for every 503: never a server "still loading" forever
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"

    def load_shadow(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int | None = None,
        log: dict[str, Any] | None = None,
    ) -> None:
        """Load the challenger of ``--shadow``; a failure is reported, never fatal."""
        options = dict(log or {})
        directory = options.pop("directory", None)
        if directory is not None:
            options["served_by"] = "shadow"
        try:
            p = Predictor.load(
                path,
                threads=threads,
                monitor=False,
                log=directory,
                log_options=options or None,
            )
        except Exception as exc:
            _log.warning("The shadow model did not load; serving without it: %s", exc)
            self.shadow_error = f"{type(exc).__name__}: {exc}"
            return
        self.shadow = Shadow(p)

    def _checked(
        self,
        path: str | os.PathLike[str],
        threads: int | None,
        monitor: bool | dict[str, Any],
        verify: str,
        log: dict[str, Any] | None = None,
        explore: dict[str, Any] | None = None,
    ) -> Predictor:
        """Load `path` and run its golden rows; raise unless it may serve."""
        check_mode(verify)
        options = dict(log or {})
        directory = options.pop("directory", None)
        p = Predictor.load(
            path,
            threads=threads,
            monitor=monitor,
            verify="off",
            log=directory,
            log_options=options or None,
            explore=explore,
        )
        if verify != "off":
            v = self.metrics.verification = p.verify()
            if not v.ok and verify == "strict":
                enforce(v, verify)  # raises ArtifactError: not ready, with why
            elif not v.ok:  # a warning from this thread would go unseen
                _log.warning("%s Serving it anyway (--verify warn).", v.message)
        return p

    def reload(self) -> dict[str, Any]:
        """Load the artifact again from its path and swap it in if it may serve.

        The new model is loaded and its golden rows run while the old one keeps
        serving; the swap is one reference assignment, so no request is dropped or
        sees a half-loaded model. If the new one fails, the old one keeps serving and
        the reason is kept in `last_reload` (and counted in the metrics).
        """
        with self._reloading:
            if self._source is None:
                outcome = {
                    "ok": False,
                    "reason": "the app was given a Predictor, "
                    "not a path; there is nothing to reload from",
                }
            else:
                path, options = self._source
                old = self.predictor
                try:
                    new = self._checked(path, **options)
                except Exception as exc:
                    outcome = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
                    if old is not None:  # the old model's verdict stands
                        self.metrics.verification = old.verification
                else:
                    self.attach(new)
                    self.load_error = None
                    outcome = {"ok": True, "reason": ""}
                    if old is not None and old.sha256 != new.sha256:
                        self.metrics.forget(old)
                    if old is not None:
                        old.close()  # its log's last rows are written
            self.metrics.reloads.labels("ok" if outcome["ok"] else "refused").inc()
            if not outcome["ok"]:
                _log.warning(
                    "Reload refused; the old model keeps serving: %s", outcome["reason"]
                )
            self.last_reload = outcome
            return outcome

    def reload_in_background(self) -> None:
        """`reload` on a thread of its own (what SIGHUP calls)."""
        threading.Thread(
            target=self.reload, name="featurekit-reload", daemon=True
        ).start()

    def load_in_background(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int | None,
        monitor: bool | dict[str, Any],
        verify: str = "strict",
        log: dict[str, Any] | None = None,
        shadow: str | os.PathLike[str] | None = None,
        explore: dict[str, Any] | None = None,
    ) -> threading.Thread:
        """Load the model (and the shadow) on a thread of its own; return the thread."""

        def both() -> None:
            self.load(
                path,
                threads=threads,
                monitor=monitor,
                verify=verify,
                log=log,
                explore=explore,
            )
            if shadow is not None:
                self.load_shadow(shadow, threads=threads, log=log)

        thread = threading.Thread(target=both, name="featurekit-load", daemon=True)
        thread.start()
        return thread

    def loaded(self) -> Predictor:
        """The predictor; 503 while it is loading or after it failed to load."""
        p = self.predictor
        if p is None:
            reason = self.load_error or "the model is still loading"
            raise unavailable(f"Not ready: {reason}.")
        return p

    def model(self, name: str, version: str | None = None) -> Predictor:
        """The loaded predictor if it is model `name` (and `version`); else 404.

        503 while it is loading (`loaded`). Every protocol (REST, gRPC) asks here.
        """
        p = self.loaded()
        if name != p.name:
            raise not_found(f"Unknown model {name!r}; this server serves {p.name!r}.")
        if version is not None and version != str(p.version):
            raise not_found(
                f"Model {name!r} has no version {version!r}; it serves version "
                f"{p.version}."
            )
        return p

    # -- requests --------------------------------------------------------------------
    async def read_body(self, request: Request, *, binary: bool = False) -> bytes:
        """The body of `request` within this app's limits (`serving.bodies.read_body`)."""
        return await bodies.read_body(
            request, self.limits, self.executor, binary=binary
        )

    def infer(
        self, p: Predictor, payload: Any
    ) -> tuple[dict[str, Any], str | None, list[str]]:
        """One Open Inference Protocol request, whichever transport carried it.

        `payload` is the request in its JSON form (REST JSON, binary tensors read
        into it, or a gRPC message translated): its tensors are read by
        `serving.oip.decode_infer`, its rows counted against the limit, named
        (``parameters.ids``, else ``<request id>-<row>``) and scored. Returns the
        scores by output, the request's ``id`` to echo, and the rows' ids; raises
        `HTTPError` (400, 413, 422) as the REST route answers.
        """
        try:
            records, selected, request_id = decode_infer(payload, p.outputs)
        except RequestError as exc:
            raise protocol_error(exc) from None
        self.check_rows(len(records))
        rid = make_request_id(request_id)
        params = payload.get("parameters") if isinstance(payload, dict) else None
        sent = params.get("ids") if isinstance(params, dict) else None
        ids = row_ids(sent, len(records), rid)
        scores = self.score(p, records, selected, False, ids, rid)
        scores.pop("explored", None)  # not an output of the model's metadata
        return scores, request_id, ids

    def check_rows(self, n: int) -> None:
        if n > self.limits.max_rows:
            raise too_large(
                f"The request has {n} rows; the limit is {self.limits.max_rows}. "
                "Split the batch."
            )

    def score(
        self,
        p: Predictor,
        records: Any,
        outputs: list[str],
        split: bool,
        ids: list[str] | None = None,
        request_id: str | None = None,
    ) -> Any:
        """`Predictor.score` on `records`, counted in the metrics; 400/422 on refusal.

        With a prediction log, `ids` (one per record) name the logged rows and the
        online tracker remembers their answers for labels to come.
        """
        # one record goes in as a dict: the contract's single-row fast path
        data = records[0] if len(records) == 1 else records
        logging = p.log is not None
        shadow = self.shadow
        # the log, the shadow and exploration need every output
        full = logging or shadow is not None or p.explores
        try:
            got = p.score(
                data,
                list(p.outputs) if full else outputs,
                on_error="split" if split else "raise",
                ids=ids if logging else None,
                request_id=request_id,
            )
        except ContractError as exc:
            raise contract_error(
                exc,
                lambda failures: self.metrics.contract_failures(failures, len(records)),
            ) from None
        if isinstance(got, Split):
            self.metrics.contract_failures(got.failures, len(got.passed))
            self.metrics.rows.inc(int(got.passed.sum()))
        else:
            self.metrics.rows.inc(len(records))
        if not full:
            return got
        scores = got.scores if isinstance(got, Split) else got
        if shadow is not None:
            passed = got.passed if isinstance(got, Split) else None
            shadow.submit(records, ids, request_id, scores, passed)
        if logging and self.online is not None and ids is not None:
            kept = ids
            if isinstance(got, Split):
                kept = [i for i, ok in zip(ids, got.passed.tolist(), strict=True) if ok]
            self.online.served(kept, scores)
        asked = {name: scores[name] for name in outputs}
        if "explored" in scores:  # --explore: which decisions the policy served
            asked["explored"] = scores["explored"]
        if isinstance(got, Split):
            got.scores = asked
            return got
        return asked

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on a worker thread; 503 if it takes over ``limits.timeout``."""
        # a plain executor future: a fraction of anyio's per-call cost, and on timeout
        # the request is answered while the abandoned call finishes in the background
        future = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        try:
            async with asyncio.timeout(self.limits.timeout):
                return await future
        except TimeoutError:
            raise unavailable(
                f"The model did not answer within {self.limits.timeout:g} s; retry "
                "with a smaller batch."
            ) from None

    async def run(
        self,
        fn: Callable[..., tuple[int, bytes] | Response],
        *args: Any,
        inline: bool = False,
    ) -> Response:
        """``fn(*args)`` on a worker thread (`call`), answering its (status, JSON).

        `fn` may build the `Response` itself, for a body that is not JSON. With
        `inline` it runs on the event loop instead: for a small request, whose
        hand-off to a thread would cost more than the work (`INLINE_BODY_BYTES`).
        """
        result = fn(*args) if inline else await self.call(fn, *args)
        if isinstance(result, Response):
            return result
        status, data = result
        return Response(data, status_code=status, media_type="application/json")


def state_of(request: Request) -> AppState:
    """The state of the app serving `request` (``app.state.featurekit``)."""
    return cast(AppState, request.app.state.featurekit)


def parse_json(body: bytes) -> Any:
    """The decoded body; 400 (with a hint for NaN and Infinity) when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = ""
        if b"NaN" in body or b"Infinity" in body:
            hint = " NaN and Infinity are not JSON; send null for a missing value."
        raise bad_request(f"Malformed JSON: {exc}.{hint}") from None
