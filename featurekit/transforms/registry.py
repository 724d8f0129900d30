"""Which ONNX emitter compiles a fitted transformer: a registry keyed by type.

Each transformer module registers the emitter that sits beside it with `emits`; the
compiler asks `emitter_for(step)`, which walks the step's class hierarchy, so a
subclass of a registered transformer compiles like its parent. Nothing here compares
class names as strings: renaming a class cannot silently change what is exported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from featurekit.onnx.graph import Graph

__all__ = ["Emitter", "emits", "emitter_for", "hint"]

#: ``emitter(g, x, step, where) -> tensor``: adds the nodes that compute what the
#: fitted `step` computes from the tensor `x`; `where` names the step in messages.
Emitter = Callable[[Graph, str, Any, str], str]
_E = TypeVar("_E", bound=Emitter)
_EMITTERS: dict[type, Emitter] = {}


def emits(*types: type) -> Callable[[_E], _E]:
    """Register the decorated function as the ONNX emitter of `types`.

    Examples
    --------
    >>> class Twice:
    ...     pass
    >>> @emits(Twice)
    ... def emit_twice(g, x, step, where):
    ...     return g.op("Add", [x, x], f"{hint(where)}_twice")
    >>> class Thrice(Twice):
    ...     pass
    >>> emitter_for(Thrice()) is emit_twice
    True
    """

    def register(fn: _E) -> _E:
        for t in types:
            _EMITTERS[t] = fn
        return fn

    return register


def emitter_for(step: Any) -> Emitter | None:
    """The emitter registered for `step`'s class or its nearest registered base."""
    for cls in type(step).__mro__:
        fn = _EMITTERS.get(cls)
        if fn is not None:
            return fn
    return None


def hint(where: str) -> str:
    """A tensor-name prefix from a step's location such as ``"income.scale"``."""
    return where.replace(".", "_")
