"""Report the phases of a long export or check: a callback, and a bar or lines on stderr.

`fk.export(..., progress=...)` and ``featurekit check`` report what they are doing as
`Progress` events: a phase (``"compile"``, ``"certify"``, ``"golden"``, ``"write"``
for an export; ``"read"``, ``"contract"``, ``"golden"``, ``"parity"`` for a check),
how much of it is done out of how much, and the seconds since the start. A
`Reporter` sends them to a callback, or renders them on stderr: a bar redrawn in
place when stderr is a terminal, otherwise a plain line at each phase and at most
every `LINE_EVERY` seconds within one. Nothing is shown for work that ends within
`QUIET` seconds, so short exports stay silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["BAR_EVERY", "LINE_EVERY", "QUIET", "Progress", "ProgressArg", "Reporter"]

#: Seconds of silence before anything is shown on stderr.
QUIET = 2.0
#: Within one phase, plain lines (stderr not a terminal) come at most this often.
LINE_EVERY = 5.0
#: A bar on a terminal is redrawn at most this often.
BAR_EVERY = 0.1
_BAR = 24


@dataclass(frozen=True)
class Progress:
    """Where a long export or check is.

    Attributes
    ----------
    phase : str
        ``"compile"`` (the graph and its onnxruntime session), ``"certify"`` (the
        parity certificate), ``"golden"`` (golden rows) or ``"write"`` for an export;
        ``"read"``, ``"contract"``, ``"golden"`` or ``"parity"`` for a check.
    done : int
        Units of the phase done so far; ``done == total`` ends the phase.
    total : int
        Units in the phase: tree splits for ``"certify"`` of a tree model, steps
        otherwise.
    unit : str
        What ``done`` and ``total`` count, e.g. ``"splits"`` or ``"steps"``.
    elapsed : float
        Seconds since the export or check started.

    Examples
    --------
    >>> Progress("certify", 1200, 4800, "splits", 3.5)
    Progress(phase='certify', done=1200, total=4800, unit='splits', elapsed=3.5)
    """

    phase: str
    done: int
    total: int
    unit: str
    elapsed: float


#: What ``progress=`` accepts: True (stderr), False (nothing) or a callback.
ProgressArg = bool | Callable[[Progress], Any] | None


class Reporter:
    """Send `Progress` events to a callback, or to stderr, or nowhere.

    Parameters
    ----------
    progress : bool or callable
        True: render on `stream` (stderr by default) once `QUIET` seconds have
        passed. False or None: report nothing. A callable: call it with every
        `Progress` event instead (stderr stays quiet).
    stream : file, optional
        Where True renders; default ``sys.stderr`` at the time of each write.
    clock : callable, optional
        Seconds, for `Progress.elapsed` (`time.perf_counter` by default).

    Examples
    --------
    >>> seen = []
    >>> report = Reporter(seen.append)
    >>> report.phase("compile", total=2)
    >>> report.advance(2)
    >>> [(e.phase, e.done, e.total) for e in seen]
    [('compile', 0, 2), ('compile', 2, 2)]
    """

    def __init__(
        self,
        progress: ProgressArg = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if progress is not None and not isinstance(progress, bool):
            if not callable(progress):
                raise TypeError(
                    "progress must be True, False or a callable taking one "
                    f"featurekit Progress event, got {progress!r}."
                )
        self._callback = progress if callable(progress) else None
        self._shown = progress is True
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._phase = ""
        self._unit = "steps"
        self._total = 0
        self._done = 0
        self._last_line = -LINE_EVERY
        self._open_bar = False

    @property
    def elapsed(self) -> float:
        """Seconds since the reporter was made."""
        return self._clock() - self._start

    def phase(self, name: str, total: int = 1, unit: str = "steps") -> None:
        """Start phase `name` of `total` units (ends the previous one)."""
        if self._phase and self._done < self._total:
            self.advance(self._total - self._done)
        self._phase, self._total, self._unit, self._done = name, total, unit, 0
        self._emit(force_line=True)

    def advance(self, units: int = 1) -> None:
        """Count `units` more of the current phase done."""
        self._done = min(self._total, self._done + units)
        self._emit(force_line=self._done >= self._total)

    def finish(self) -> None:
        """End the current phase as done, and the bar."""
        if self._phase and self._done < self._total:
            self.advance(self._total - self._done)
        self.close()

    def close(self) -> None:
        """End the bar, if one is drawn, where it stands (after a failure, say)."""
        if self._open_bar:
            print(file=self._out(), flush=True)
            self._open_bar = False

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _emit(self, *, force_line: bool) -> None:
        event = Progress(self._phase, self._done, self._total, self._unit, self.elapsed)
        if self._callback is not None:
            self._callback(event)
            return
        if not self._shown or event.elapsed < QUIET:
            return
        out = self._out()
        if _isatty(out):
            if force_line or event.elapsed - self._last_line >= BAR_EVERY:
                self._last_line = event.elapsed
                self._bar(out, event)
            return
        if not force_line and event.elapsed - self._last_line < LINE_EVERY:
            return
        self._last_line = event.elapsed
        print(_line(event), file=out, flush=True)

    def _bar(self, out: TextIO, event: Progress) -> None:
        share = event.done / event.total if event.total else 1.0
        filled = round(_BAR * share)
        bar = "#" * filled + "-" * (_BAR - filled)
        text = f"{event.phase:<9}[{bar}] {_count(event) or 'working'}"
        print(
            f"\r{text:<60} {event.elapsed:6.1f} s",
            end="",
            file=out,
            flush=True,
        )
        self._open_bar = True
        if event.done >= event.total:
            print(file=out, flush=True)
            self._open_bar = False


def _count(event: Progress) -> str:
    if event.unit == "steps" and event.total <= 1:
        return ""
    return f"{event.done:,} / {event.total:,} {event.unit}"


def _line(event: Progress) -> str:
    if event.done >= event.total:
        state = "done"
    elif event.done == 0:
        state = "started"
    else:
        state = f"{event.done / event.total:.0%}"
    count = _count(event)
    return (
        f"featurekit: {event.phase} {state}"
        + (f", {count}" if count else "")
        + f" ({event.elapsed:.1f} s)"
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
