r"""TF-IDF text features that scikit-learn and onnxruntime compute bit for bit alike.

This module is long (about 550 lines) on purpose: the tokenizer rule, the transformer
that applies it and the ONNX emitter that repeats it step for step must be read
together, and half of it is the rule's documentation.

The tokenizer
-------------
scikit-learn's default token pattern ``(?u)\b\w\w+\b`` and onnxruntime's re2 disagree
on what ``\w`` and ``\b`` mean for non-ASCII text, and onnxruntime's locale-based
``StringNormalizer`` lowercases some characters differently from ``str.lower``. So
featurekit defines its own rule, stated in code points, that both runtimes apply
literally:

1. A missing value (None, NaN, ``pd.NA`` or `featurekit.missing.MISSING`) is the empty
   string.
2. With ``lowercase=True``, the 26 ASCII capitals ``A``-``Z`` become ``a``-``z``. No
   other character changes: ``'É'``, ``'İ'``, ``'Σ'`` and ``'ß'`` stay as they are.
3. A *separator* is any ASCII character that is not a letter or digit (controls,
   space, punctuation, ``_``, DEL; U+0000-U+002F, U+003A-U+0040, U+005B-U+0060,
   U+007B-U+007F), or one of the fixed list `UNICODE_SEPARATORS`: U+0085, U+00A0,
   U+1680, U+2000-U+200B, U+2028, U+2029, U+202F, U+205F, U+3000 and U+FEFF.
4. A token is a maximal run of non-separators, one character or longer. Everything
   else (accents, combining marks, CJK, emoji, ZWJ, RTL marks) is part of a token;
   unsegmented text such as Chinese is one token per run.
5. n-grams are runs of consecutive tokens; scikit-learn spells them joined by a
   space, which is a separator, so no n-gram is ambiguous.

In the graph, rule 3-4 is the ``com.microsoft`` ``Tokenizer`` with ``tokenexp`` set
to the negated class of those exact code points. Rule 2 splits each token into
characters (``Tokenizer`` with ``tokenexp="."``), maps ``A``-``Z`` with a
``LabelEncoder`` and concatenates the characters again in a ``Loop``. Counting is
``TfIdfVectorizer`` (float32 counts, exact below 2**24), then double precision.

The norm
--------
scikit-learn sums a row's squares left to right; onnxruntime's ``ReduceSumSquare``
sums in SIMD lanes, which moves the last bit. `TextTfidf` therefore asks
``TfidfVectorizer`` for the unnormalised matrix and normalises it itself with a
fixed pairwise sum (zero-pad to a power of two, then add the halves), which the
graph repeats operation for operation. It differs from ``TfidfVectorizer(norm=...)``
by a few ulp at most and is at least as accurate.
"""

from __future__ import annotations

import re
from numbers import Integral, Real
from typing import Any

import numpy as np
from onnx import TensorProto, helper
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.contract.values import utf8_ok
from featurekit.errors import ExportError
from featurekit.expr.emitter import emit_log
from featurekit.expr.evaluator import log
from featurekit.missing import MISSING, is_missing
from featurekit.onnx.graph import ML, Graph
from featurekit.transforms.registry import emits

__all__ = ["UNICODE_SEPARATORS", "TextTfidf", "emit_text", "tokenize"]

MS = "com.microsoft"

#: The non-ASCII separators: Unicode's whitespace plus ZERO WIDTH SPACE and the BOM.
#: Frozen here so that the rule does not move with Python's Unicode version.
UNICODE_SEPARATORS = (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_ASCII_SEPARATORS = [(0x00, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7F)]
_RANGES = _ASCII_SEPARATORS + [(ord(c), ord(c)) for c in UNICODE_SEPARATORS]
_PY_TOKEN = re.compile(
    "[^" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in _RANGES) + "]+"
)
#: The same class for re2, which the onnxruntime Tokenizer compiles in UTF-8 mode.
RE2_TOKEN = "[^" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in _RANGES) + "]+"
_UPPER = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_LOWER = [c.lower() for c in _UPPER]
_ASCII_LOWER = str.maketrans(dict(zip(_UPPER, _LOWER, strict=True)))
#: re2 refuses a counted repetition above 1000.
_RE2_MAX_REPEAT = 1000


def ascii_lower(text: str) -> str:
    """Rule 2: lowercase ``A``-``Z`` and nothing else.

    Examples
    --------
    >>> ascii_lower("ÉCOLE İstanbul ΣΟΦΙΑ")
    'École İstanbul ΣΟΦΙΑ'
    """
    return text.translate(_ASCII_LOWER)


def tokenize(text: str) -> list[str]:
    r"""Rules 3-4: the maximal runs of non-separator characters.

    Examples
    --------
    >>> tokenize("don't\u00a0stop—me_now! 東京タワー")
    ['don', 't', 'stop—me', 'now', '東京タワー']
    """
    return _PY_TOKEN.findall(text)


class TextTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF of one text column, with a tokenizer onnxruntime reproduces exactly.

    The tokenizer is featurekit's rule (see the module docstring); counting,
    vocabulary selection and idf are scikit-learn's ``TfidfVectorizer``.

    Parameters
    ----------
    ngram_range : tuple of (int, int)
        The smallest and largest n-gram, in tokens.
    max_features : int, optional
        Keep the terms with the highest counts over the corpus.
    min_df, max_df : int or float
        Drop terms in fewer / more documents than this count or fraction.
    lowercase : bool
        Lowercase ``A``-``Z`` (ASCII only) before tokenizing.
    binary : bool
        Count each term at most once per document.
    sublinear_tf : bool
        Use ``1 + log(tf)`` instead of ``tf``.
    norm : {"l2", "l1", None}
        Scale each row to unit norm.
    use_idf, smooth_idf : bool
        As in ``TfidfVectorizer``.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        The fitted vectorizer (``norm=None``; the norm is applied by `TextTfidf`).
    vocabulary_ : dict of str to int
        Term -> output column; an n-gram's tokens are joined by a space.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([["Good food"], ["bad FOOD"], [None]], dtype=object)
    >>> t = TextTfidf().fit(X)
    >>> t.get_feature_names_out().tolist()
    ['bad', 'food', 'good']
    >>> t.transform(np.array([["food, food!"]], dtype=object)).tolist()
    [[0.0, 1.0, 0.0]]
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 1),
        max_features: int | None = None,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        lowercase: bool = True,
        binary: bool = False,
        sublinear_tf: bool = False,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
    ) -> None:
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.max_df = max_df
        self.lowercase = lowercase
        self.binary = binary
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf

    def fit(self, X: Any, y: Any = None) -> TextTfidf:
        self._check_params()
        docs = self._documents(X, reset=True)
        self.vectorizer_ = TfidfVectorizer(
            preprocessor=ascii_lower if self.lowercase else _as_is,
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=tuple(self.ngram_range),
            max_features=self.max_features,
            min_df=self.min_df,
            max_df=self.max_df,
            binary=self.binary,
            sublinear_tf=False,  # featurekit's exact log, in `transform`
            norm=None,
            use_idf=self.use_idf,
            smooth_idf=self.smooth_idf,
            dtype=np.float64,
        )
        try:
            self.vectorizer_.fit(docs)
        except ValueError as exc:
            if "empty vocabulary" not in str(exc) and "no terms remain" not in str(exc):
                raise
            raise ValueError(
                f"TextTfidf found no terms in {len(docs)} documents "
                f"(min_df={self.min_df!r}, max_df={self.max_df!r}): every document is "
                "empty, missing or separators only, or every term was pruned. Give it "
                "text, or lower min_df / raise max_df."
            ) from exc
        self.vocabulary_ = dict(self.vectorizer_.vocabulary_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "vectorizer_")
        docs = self._documents(X, reset=False)
        width = len(self.vocabulary_)
        if not docs:
            return np.zeros((0, width), dtype=np.float64)
        # the counts, then 1 + log(tf) and idf as TfidfTransformer applies them, but
        # with featurekit's exact log: numpy's log changes bits with the CPU's SIMD
        counts = CountVectorizer.transform(self.vectorizer_, docs)
        out = np.asarray(counts.toarray(), dtype=np.float64)
        if self.sublinear_tf:
            out = sublinear(out)
        if self.use_idf:
            out *= np.asarray(self.vectorizer_.idf_, dtype=np.float64)[None, :]
        return normalize_rows(out, self.norm)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "vectorizer_")
        return np.asarray(self.vectorizer_.get_feature_names_out(), dtype=object)

    def _check_params(self) -> None:
        lo_hi = self.ngram_range
        if not (
            isinstance(lo_hi, tuple | list)
            and len(lo_hi) == 2
            and all(isinstance(n, Integral) and not isinstance(n, bool) for n in lo_hi)
            and 1 <= int(lo_hi[0]) <= int(lo_hi[1])
        ):
            raise ValueError(
                f"TextTfidf(ngram_range={lo_hi!r}) is invalid: expected two integers "
                "(min_n, max_n) with 1 <= min_n <= max_n, e.g. (1, 2)."
            )
        mf = self.max_features
        if mf is not None and not (
            isinstance(mf, Integral) and not isinstance(mf, bool) and mf >= 1
        ):
            raise ValueError(
                f"TextTfidf(max_features={mf!r}) is invalid: expected None or a "
                "positive integer."
            )
        for name in ("min_df", "max_df"):
            v = getattr(self, name)
            ok = (
                isinstance(v, Integral) and not isinstance(v, bool) and int(v) >= 0
            ) or (
                isinstance(v, Real)
                and not isinstance(v, Integral)
                and 0.0 <= float(v) <= 1.0
            )
            if not ok:
                raise ValueError(
                    f"TextTfidf({name}={v!r}) is invalid: expected a document count "
                    "(int >= 0) or a fraction of documents (float in [0.0, 1.0])."
                )
        for name in ("lowercase", "binary", "sublinear_tf", "use_idf", "smooth_idf"):
            v = getattr(self, name)
            if not isinstance(v, bool | np.bool_):
                raise ValueError(
                    f"TextTfidf({name}={v!r}) is invalid: expected True or False."
                )
        if self.norm not in ("l1", "l2", None):
            raise ValueError(
                f"TextTfidf(norm={self.norm!r}) is invalid: expected 'l2', 'l1' or None."
            )

    def _documents(self, X: Any, *, reset: bool) -> list[str]:
        """The column as a list of str, missing values as ''."""
        if getattr(X, "ndim", None) == 1 and hasattr(X, "to_frame"):  # a Series
            X = X.to_frame()
        elif getattr(X, "ndim", None) == 1 or (
            isinstance(X, list | tuple)
            and not any(isinstance(v, list | tuple) for v in X)
        ):
            X = np.asarray(X, dtype=object).reshape(-1, 1)
        X = validate_data(
            self,
            X,
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=1 if reset else 0,
            reset=reset,
        )
        if X.shape[1] != 1:
            raise ValueError(
                f"TextTfidf takes one text column, but X has {X.shape[1]} columns; "
                "give each text column its own TextTfidf."
            )
        docs: list[str] = []
        for i, value in enumerate(X[:, 0].tolist()):
            if isinstance(value, str) and value != MISSING:
                docs.append(str(value))
            elif is_missing(value, sentinel=True):
                docs.append("")
            else:
                raise ValueError(
                    f"TextTfidf takes strings, but row {i} holds {value!r} "
                    f"({type(value).__name__}); convert the column to str or mark "
                    "the value missing (None)."
                )
        try:
            "".join(docs).encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = next(d for d in docs if not utf8_ok(d))
            raise ValueError(
                f"TextTfidf got a string onnxruntime cannot read ({bad[:40]!r}): "
                f"{exc.reason}; strings must be valid Unicode (no lone surrogates)."
            ) from exc
        return docs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []  # strings in, float64 out
        return tags


def _as_is(text: str) -> str:
    return text


def _pad_width(width: int) -> int:
    return 1 << max(width - 1, 0).bit_length()


def normalize_rows(X: np.ndarray, norm: str | None) -> np.ndarray:
    """Divide each row by its l1 or l2 norm, summed pairwise as the graph does.

    Zero rows stay zero.

    Examples
    --------
    >>> normalize_rows(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]), "l2").tolist()
    [[0.6, 0.8, 0.0], [0.0, 0.0, 0.0]]
    """
    if norm is None:
        return X
    terms = np.abs(X) if norm == "l1" else X * X
    n, width = terms.shape
    s = np.concatenate([terms, np.zeros((n, _pad_width(width) - width))], axis=1)
    while s.shape[1] > 1:
        half = s.shape[1] // 2
        s = s[:, :half] + s[:, half:]
    norms = s[:, 0] if norm == "l1" else np.sqrt(s[:, 0])
    norms[norms == 0.0] = 1.0
    return np.asarray(X / norms[:, None], dtype=np.float64)


# -- ONNX --------------------------------------------------------------------------


@emits(TextTfidf)
def emit_text(g: Graph, x: str, step: TextTfidf, where: str) -> str:
    """Add the nodes that compute ``step.transform`` of the [N, 1] string tensor `x`.

    Returns the (N, n_terms) double tensor.
    """
    if not hasattr(step, "vectorizer_"):
        raise ExportError(f"{where}: TextTfidf is not fitted; fit the pipeline first.")
    terms = sorted(step.vocabulary_.items(), key=lambda kv: kv[1])
    split = [(term.split(" "), col) for term, col in terms]
    if any("" in toks for toks, _ in split):
        raise ExportError(
            f"{where}: TextTfidf's vocabulary has a term that is not space-joined "
            "tokens; it was not fitted with featurekit's tokenizer."
        )
    flat = g.op("Reshape", [x, g.const(np.array([-1], dtype=np.int64), "flat")])
    missing = g.op("Equal", [flat, g.const([MISSING], "missing")])
    empty = g.const([""], "empty")
    flat = g.op("Where", [missing, empty, flat], f"{where}_text")
    # One dummy row with exactly one token keeps every shape non-degenerate:
    # the Tokenizer returns rank-1 [0] for N=0 and [N, 0] when no row has a token.
    padded = g.op("Concat", [flat, g.const(["x"], "dummy")], axis=0)
    tokens = g.op(
        "Tokenizer",
        [padded],
        f"{where}_tokens",
        domain=MS,
        mark=0,
        mincharnum=1,
        pad_value="",
        tokenexp=RE2_TOKEN,
    )
    if step.lowercase:
        longest = max(len(t) for toks, _ in split for t in toks)
        tokens = _ascii_lower_tokens(g, tokens, longest, where)
    grams = sorted({len(toks) for toks, _ in split})
    pool: list[str] = []
    counts: list[int] = []
    indexes: list[int] = []
    for n in range(1, grams[-1] + 1):
        counts.append(len(pool))
        for toks, col in split:
            if len(toks) == n:
                pool.extend(toks)
                indexes.append(col)
    tf = g.op(
        "TfIdfVectorizer",
        [tokens],
        f"{where}_counts",
        mode="TF",
        min_gram_length=grams[0],
        max_gram_length=grams[-1],
        max_skip_count=0,
        ngram_counts=counts,
        ngram_indexes=indexes,
        pool_strings=pool,
    )
    n_rows = g.op("Shape", [flat], f"{where}_n")
    tf = g.op(
        "Slice",
        [tf, g.const(np.array([0], dtype=np.int64), "zero"), n_rows],
        f"{where}_counts_rows",
    )
    tf = g.op("Cast", [tf], f"{where}_tf", to=TensorProto.DOUBLE)
    if step.binary:
        tf = g.op("Min", [tf, g.const([1.0], "one")], f"{where}_binary")
    if step.sublinear_tf:
        tf = _sublinear(g, tf, where)
    idf = getattr(step.vectorizer_, "idf_", None)
    if step.use_idf and idf is not None:
        tf = g.op(
            "Mul",
            [tf, g.const(np.asarray(idf, dtype=np.float64)[None, :], f"{where}_idf")],
            f"{where}_tfidf",
        )
    if step.norm is not None:
        tf = _normalize(g, tf, len(terms), step.norm, where)
    return tf


def _ascii_lower_tokens(g: Graph, tokens: str, longest: int, where: str) -> str:
    """Lowercase A-Z in each token: split into characters, map, concatenate again."""
    if longest <= _RE2_MAX_REPEAT:
        # a token longer than every vocabulary token cannot match; blanking it keeps
        # its position (so n-grams across it still fail) and bounds the loop below
        short = g.op(
            "RegexFullMatch",
            [tokens],
            f"{where}_short",
            pattern=f"(?s).{{0,{longest}}}",
        )
        tokens = g.op("Where", [short, tokens, g.const([""], "empty")], f"{where}_kept")
    chars = g.op(
        "Tokenizer",
        [tokens],
        f"{where}_chars",
        domain=MS,
        mark=0,
        mincharnum=1,
        pad_value="",
        tokenexp=".",
    )
    mapped = g.op(
        "LabelEncoder",
        [chars],
        f"{where}_mapped",
        domain=ML,
        keys_strings=_UPPER,
        values_strings=_LOWER,
        default_string="",
    )
    upper = g.op("Not", [g.op("Equal", [mapped, g.const([""], "empty")])])
    chars = g.op("Where", [upper, mapped, chars], f"{where}_lowchars")
    n_chars = g.op(
        "Squeeze",
        [g.op("Shape", [chars], start=2, end=3)],
        f"{where}_n_chars",
    )
    start = g.op("Shape", [tokens], f"{where}_token_shape")
    acc0 = g.op("Expand", [g.const([""], "empty"), start], f"{where}_acc0")
    i, cond, acc = g.name("i"), g.name("cond"), g.name("acc")
    char = g.name("char")
    cond_out, acc_out = g.name("cond_out"), g.name("acc_out")
    body = helper.make_graph(
        [
            helper.make_node(
                "Gather", [chars, i], [char], name=g.name("n_Gather"), axis=2
            ),
            helper.make_node(
                "StringConcat", [acc, char], [acc_out], name=g.name("n_StringConcat")
            ),
            helper.make_node("Identity", [cond], [cond_out], name=g.name("n_Identity")),
        ],
        g.name("lower_body"),
        [
            helper.make_tensor_value_info(i, TensorProto.INT64, []),
            helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
            helper.make_tensor_value_info(acc, TensorProto.STRING, None),
        ],
        [
            helper.make_tensor_value_info(cond_out, TensorProto.BOOL, []),
            helper.make_tensor_value_info(acc_out, TensorProto.STRING, None),
        ],
    )
    return g.op("Loop", [n_chars, "", acc0], f"{where}_lower", body=body)


def sublinear(tf: np.ndarray) -> np.ndarray:
    """``1 + log(tf)`` where tf > 0, else 0, with featurekit's exact log.

    Examples
    --------
    >>> sublinear(np.array([[0.0, 1.0, 3.0]])).tolist()
    [[0.0, 1.0, 2.0986122886681096]]
    """
    positive = tf > 0
    return np.where(positive, log(np.where(positive, tf, 1.0)) + 1.0, 0.0)


def _sublinear(g: Graph, tf: str, where: str) -> str:
    """The graph twin of `sublinear`, bit for bit on any CPU."""
    positive = g.op("Greater", [tf, g.const([0.0], "zero_d")])
    safe = g.op("Where", [positive, tf, g.const([1.0], "one")])
    logged = g.op("Add", [emit_log(g, safe), g.const([1.0], "one")])
    return g.op(
        "Where", [positive, logged, g.const([0.0], "zero_d")], f"{where}_sublinear"
    )


def _normalize(g: Graph, x: str, width: int, norm: str, where: str) -> str:
    terms = g.op("Abs", [x]) if norm == "l1" else g.op("Mul", [x, x])
    padded = _pad_width(width)
    s = terms
    if padded > width:
        s = g.op(
            "Pad",
            [s, g.const(np.array([0, 0, 0, padded - width], dtype=np.int64), "pads")],
        )
    zero = g.const(np.array([0], dtype=np.int64), "zero")
    axis = g.const(np.array([1], dtype=np.int64), "axis1")
    while padded > 1:
        half = padded // 2
        h = g.const(np.array([half], dtype=np.int64), "half")
        p = g.const(np.array([padded], dtype=np.int64), "end")
        left = g.op("Slice", [s, zero, h, axis])
        right = g.op("Slice", [s, h, p, axis])
        s = g.op("Add", [left, right], f"{where}_pairsum")
        padded = half
    norms = s if norm == "l1" else g.op("Sqrt", [s])
    is_zero = g.op("Equal", [norms, g.const([0.0], "zero_f")])
    norms = g.op("Where", [is_zero, g.const([1.0], "one"), norms], f"{where}_norm")
    return g.op("Div", [x, norms], f"{where}_normalized")
