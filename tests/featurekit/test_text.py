"""TextTfidf: its tokenizer rule, its parity with onnxruntime, and the estimator contract."""

import pickle
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from featurekit.errors import ExportError
from featurekit.missing import MISSING
from featurekit.onnx.graph import Graph
from featurekit.transforms.text import TextTfidf, ascii_lower, emit_text, tokenize

# -- an independent statement of the documented tokenizer rule ------------------------
# Written from the rule in featurekit.transforms.text's docstring, character by character, without
# regular expressions, so that a wrong character class in the module cannot hide here.

_ORACLE_SEPARATORS = {chr(c) for c in range(128) if not chr(c).isalnum()} | {
    "\u0085",  # NEXT LINE
    "\u00a0",  # NO-BREAK SPACE
    "\u1680",  # OGHAM SPACE MARK
    *(chr(c) for c in range(0x2000, 0x200C)),  # EN QUAD .. ZERO WIDTH SPACE
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    "\u202f",  # NARROW NO-BREAK SPACE
    "\u205f",  # MEDIUM MATHEMATICAL SPACE
    "\u3000",  # IDEOGRAPHIC SPACE
    "\ufeff",  # ZERO WIDTH NO-BREAK SPACE (BOM)
}


def oracle_tokens(text, lowercase=True):
    if lowercase:
        text = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    tokens, current = [], ""
    for c in text:
        if c in _ORACLE_SEPARATORS:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += c
    if current:
        tokens.append(current)
    return tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("", []),
        ("...  !? \t\n", []),
        ("snake_case x-ray a.b", ["snake", "case", "x", "ray", "a", "b"]),
        ("abc123 4.5", ["abc123", "4", "5"]),
        ("İstanbul ΣΟΦΟΣ Straße ẞ", ["İstanbul", "ΣΟΦΟΣ", "straße", "ẞ"]),
        ("ÉCOLE École", ["École", "École"]),
        ("cafe\u0301 naïve", ["cafe\u0301", "naïve"]),
        ("東京タワー、東京", ["東京タワー、東京"]),
        ("👍🏽ok 😀", ["👍🏽ok", "😀"]),
        ("👨\u200d👩 zwnj\u200cword", ["👨\u200d👩", "zwnj\u200cword"]),
        ("zero\u200bwidth\ufeffbom", ["zero", "width", "bom"]),
        ("a\u00a0b\u3000c\u2009d\u1680e\x85f\u2028g", list("abcdefg")),
        ("שלום עולם\u200f!", ["שלום", "עולם\u200f"]),
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
        ("nul\x00inside\x7fdel", ["nul", "inside", "del"]),
    ],
)
def test_tokenizer_follows_the_documented_rule_on_handwritten_examples(text, expected):
    assert tokenize(ascii_lower(text)) == expected
    assert oracle_tokens(text) == expected


def test_tokenizer_without_lowercase_keeps_ascii_capitals():
    assert tokenize("Hello WORLD") == ["Hello", "WORLD"]
    assert oracle_tokens("Hello WORLD", lowercase=False) == ["Hello", "WORLD"]


# -- generated text ------------------------------------------------------------------

_SPECIAL = (
    "AZaz09Éé\u0130\u0131ßẞΣσςΟΦ\u0301\u0308東京中文タ한"
    "👍🏽😀👨\u200d👩\u200b\u200c\u2060\ufeff\u200e\u200fשלוםمرحبا"
    "\u00a0\u3000\u2009\u1680\x85\u2028\x00\x1f\x7f \t\n.,!?'_-/"
)
_CHARS = st.one_of(
    st.sampled_from(_SPECIAL),
    st.characters(codec="utf-8"),  # anything encodable: no lone surrogates
)
_WORD = st.text(_CHARS, min_size=1, max_size=6)
_SEPARATOR = st.text(st.sampled_from(" ,.!?\t\n\u00a0\u3000\u200b_-\x00"), max_size=3)


@st.composite
def corpora(draw, n_min=0):
    """Documents made from a small word list (so terms repeat) and stray characters."""
    words = draw(st.lists(_WORD, min_size=1, max_size=8))
    piece = st.one_of(
        st.sampled_from(words),
        st.sampled_from(words).map(str.upper),
        st.sampled_from(words).map(str.title),
        _WORD,
    )
    doc = st.builds(
        lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)),
        st.lists(piece, max_size=8),
        st.lists(_SEPARATOR, min_size=8, max_size=8),
    )
    value = st.one_of(doc, doc, doc, st.sampled_from(["", None, MISSING, np.nan]))
    return draw(st.lists(value, min_size=n_min, max_size=12))


_PARAMS = st.fixed_dictionaries(
    {
        "ngram_range": st.sampled_from([(1, 1), (1, 2), (2, 3), (1, 3), (2, 2)]),
        "max_features": st.sampled_from([None, None, 1, 3, 10]),
        "lowercase": st.booleans(),
        "binary": st.booleans(),
        "sublinear_tf": st.booleans(),
        "norm": st.sampled_from(["l2", "l1", None]),
        "use_idf": st.booleans(),
        "smooth_idf": st.booleans(),
    }
)


def column(values):
    out = np.empty((len(values), 1), dtype=object)
    out[:, 0] = values
    return out


def onnx_transform(step, values):
    """Run emit_text in a real onnxruntime session, feeding what serving feeds."""
    g = Graph()
    x = g.add_input("text", "string", ["N", 1])
    g.add_output(emit_text(g, x, step, "text"), "double", ["N", len(step.vocabulary_)])
    session = ort.InferenceSession(
        g.model().SerializeToString(), providers=["CPUExecutionProvider"]
    )
    fed = [MISSING if v is None or v != v else v for v in values]  # as Columns.coerce
    return session.run(None, {"text": column(fed)})[0]


def fit_or_reject(params, corpus):
    try:
        return TextTfidf(**params).fit(column(corpus))
    except ValueError as exc:
        if "found no terms" not in str(exc):
            raise
        reject()


_PARITY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@given(text=st.text(_CHARS, max_size=40))
@settings(max_examples=2000, deadline=None)
def test_tokenizer_equals_the_oracle_on_generated_text(text):
    assert tokenize(ascii_lower(text)) == oracle_tokens(text)
    assert tokenize(text) == oracle_tokens(text, lowercase=False)


@given(corpus=corpora(n_min=1), params=_PARAMS)
@_PARITY
def test_onnx_equals_transform_bit_for_bit_on_the_fitted_corpus(corpus, params):
    # every token of the batch is in the vocabulary, so any tokenizer or lowercase
    # difference between the runtimes shows up as a different count
    step = fit_or_reject(params, corpus)
    expected = step.transform(column(corpus))
    np.testing.assert_array_equal(onnx_transform(step, corpus), expected)


@given(corpus=corpora(n_min=1), batch=corpora(), params=_PARAMS)
@_PARITY
def test_onnx_equals_transform_bit_for_bit_on_unseen_text(corpus, batch, params):
    step = fit_or_reject(params, corpus)
    expected = step.transform(column(batch))
    assert expected.shape == (len(batch), len(step.vocabulary_))
    np.testing.assert_array_equal(onnx_transform(step, batch), expected)


@pytest.mark.parametrize(
    "batch",
    [[], [""], [None], [MISSING], ["", "...", " \u3000 "], ["no known words"]],
    ids=["N=0", "empty", "None", "MISSING", "separators", "unseen"],
)
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3)])
def test_onnx_gives_zero_rows_for_batches_without_known_terms(batch, ngram_range):
    step = TextTfidf(ngram_range=ngram_range).fit(column(["a b c", "b c d e"]))
    out = onnx_transform(step, batch)
    assert out.shape == (len(batch), len(step.vocabulary_))
    assert not out.any()
    np.testing.assert_array_equal(step.transform(column(batch)), out)


@pytest.mark.parametrize("repeats", [3, 5000, 16385, 65537])
@pytest.mark.parametrize("sublinear_tf", [False, True])
def test_onnx_is_exact_for_any_count(sublinear_tf, repeats):
    # onnxruntime's Log(5000) differs from numpy's in the last bit; both runtimes
    # take featurekit's exact log instead, for every count
    docs = ["spam " * repeats + "eggs", "eggs ham", "ham " * 3]
    step = TextTfidf(sublinear_tf=sublinear_tf).fit(column(docs))
    np.testing.assert_array_equal(
        onnx_transform(step, docs), step.transform(column(docs))
    )


def test_sublinear_tf_is_scikit_learns_within_a_few_ulp():
    """featurekit's exact log is within 1 ulp of numpy's; after idf, a few ulp."""
    docs = ["spam " * 5000 + "eggs", "eggs ham " * 7, "ham " * 3, "spam eggs"]
    ours = TextTfidf(sublinear_tf=True, norm=None).fit(column(docs))
    theirs = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        sublinear_tf=True,
        norm=None,
    ).fit(docs)
    np.testing.assert_allclose(
        ours.transform(column(docs)),
        theirs.transform(docs).toarray(),
        rtol=4 * np.finfo(np.float64).eps,
        atol=0,
    )


def test_onnx_blanks_tokens_longer_than_the_vocabulary_without_joining_neighbours():
    step = TextTfidf(ngram_range=(1, 2)).fit(column(["ab cd", "ab"]))
    batch = ["AB " + "x" * 3000 + " CD", "AB CD", "ab" + "C" * 2000]
    np.testing.assert_array_equal(
        onnx_transform(step, batch), step.transform(column(batch))
    )
    assert not onnx_transform(step, batch)[0, step.vocabulary_["ab cd"]]


# -- against plain scikit-learn ------------------------------------------------------

# TextTfidf sums a row's squares pairwise (the order the graph repeats); scikit-learn
# sums left to right. Both are correctly rounded steps of the same exact sum, so they
# differ by a few ulp at most; 8 ulp of 1.0 is the tolerance written here.
_NORM_TOLERANCE = 8 * np.finfo(np.float64).eps


@given(corpus=corpora(n_min=1), batch=corpora(), params=_PARAMS)
@settings(max_examples=60, deadline=None)
def test_transform_equals_tfidf_vectorizer_with_the_documented_tokenizer(
    corpus, batch, params
):
    step = fit_or_reject(params, corpus)
    reference = TfidfVectorizer(
        tokenizer=lambda d: oracle_tokens(d, lowercase=params["lowercase"]),
        token_pattern=None,
        lowercase=False,
        **{k: v for k, v in params.items() if k != "lowercase"},
    ).fit([v if isinstance(v, str) and v != MISSING else "" for v in corpus])
    docs = [v if isinstance(v, str) and v != MISSING else "" for v in batch]
    assert reference.vocabulary_ == step.vocabulary_
    if not docs:
        return
    np.testing.assert_allclose(
        step.transform(column(batch)),
        reference.transform(docs).toarray(),
        rtol=0,
        atol=_NORM_TOLERANCE,
    )


# -- inputs and parameters ------------------------------------------------------------

_TRAIN = ["Good food", "bad FOOD", None, "good service, good food"]


@pytest.mark.parametrize(
    "X",
    [
        column(_TRAIN),
        np.array(_TRAIN, dtype=object),
        _TRAIN,
        pd.Series(_TRAIN, name="review"),
        pd.DataFrame({"review": _TRAIN}),
    ],
    ids=["2d", "1d", "list", "series", "frame"],
)
def test_transform_accepts_columns_in_any_shape(X):
    expected = TextTfidf().fit(column(_TRAIN)).transform(column(_TRAIN))
    np.testing.assert_array_equal(TextTfidf().fit(X).transform(X), expected)


def test_missing_values_count_as_empty_text():
    step = TextTfidf().fit(column(_TRAIN))
    out = step.transform(column([None, np.nan, MISSING, pd.NA, ""]))
    assert out.shape == (5, 4)
    assert not out.any()


def test_output_is_dense_float64_with_term_names():
    step = TextTfidf(ngram_range=(1, 2)).fit(column(_TRAIN))
    out = step.transform(column(_TRAIN))
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert step.get_feature_names_out().tolist() == [
        "bad",
        "bad food",
        "food",
        "good",
        "good food",
        "good service",
        "service",
        "service good",
    ]


def test_l2_rows_have_unit_norm_and_l1_rows_unit_sum():
    l2 = TextTfidf().fit_transform(column(_TRAIN))
    l1 = TextTfidf(norm="l1").fit_transform(column(_TRAIN))
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), [1, 1, 0, 1], atol=1e-15)
    np.testing.assert_allclose(l1.sum(axis=1), [1, 1, 0, 1], atol=1e-15)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ngram_range": (2, 1)}, r"ngram_range=\(2, 1\)\) is invalid"),
        ({"ngram_range": (0, 1)}, r"1 <= min_n <= max_n"),
        ({"ngram_range": "1,2"}, r"two integers"),
        ({"max_features": 0}, r"max_features=0\) is invalid"),
        ({"min_df": -1}, r"min_df=-1\) is invalid"),
        ({"max_df": 1.5}, r"max_df=1.5\) is invalid"),
        ({"binary": "yes"}, r"binary='yes'\) is invalid: expected True or False"),
        ({"norm": "max"}, r"norm='max'\) is invalid: expected 'l2', 'l1' or None"),
    ],
)
def test_fit_refuses_invalid_parameters_with_clear_messages(params, message):
    with pytest.raises(ValueError, match=message):
        TextTfidf(**params).fit(column(_TRAIN))


def test_fit_refuses_a_corpus_without_terms():
    with pytest.raises(ValueError, match=r"found no terms in 3 documents"):
        TextTfidf().fit(column(["", None, "..."]))


def test_transform_refuses_values_that_are_not_text():
    step = TextTfidf().fit(column(_TRAIN))
    with pytest.raises(ValueError, match=r"row 1 holds 3.5 \(float\)"):
        step.transform(column(["ok", 3.5]))


def test_transform_refuses_more_than_one_column():
    with pytest.raises(ValueError, match=r"one text column, but X has 2 columns"):
        TextTfidf().fit(np.array([["a", "b"]], dtype=object))


def test_transform_refuses_strings_onnxruntime_cannot_read():
    step = TextTfidf().fit(column(_TRAIN))
    with pytest.raises(ValueError, match=r"no lone surrogates"):
        step.transform(column(["ok", "bad\ud800"]))


def test_emit_refuses_an_unfitted_step():
    with pytest.raises(ExportError, match=r"review: TextTfidf is not fitted"):
        emit_text(Graph(), "x", TextTfidf(), "review")


# -- scikit-learn's estimator checks --------------------------------------------------
# Like scikit-learn's own vectorizers, TextTfidf declares input_tags.string=True and
# two_d_array=False: it reads one column of text, not a numeric matrix. scikit-learn
# then runs only check_estimator_cloneable and skips its data checks with a
# SkipTestWarning (silenced here, at collection). The checks that need no data run
# explicitly below, and each data check's property is tested on text after them.

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SkipTestWarning)
    _checks = parametrize_with_checks(
        [TextTfidf(), TextTfidf(ngram_range=(1, 2), sublinear_tf=True, norm="l1")]
    )


@_checks
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_valid_tag_types,
        estimator_checks.check_estimator_tags_renamed,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_mixin_order,
    ],
    ids=lambda c: c.__name__,
)
def test_text_tfidf_passes_the_checks_that_need_no_data(check):
    check("TextTfidf", TextTfidf())


_TEST = ["good food", "", "service?", "bad bad food", None, "GOOD"]
_STEPS = [TextTfidf(), TextTfidf(ngram_range=(1, 2), binary=True, norm=None)]


@pytest.mark.parametrize("step", _STEPS)
def test_init_stores_arguments_unchanged(step):
    assert clone(step).get_params() == step.get_params()


@pytest.mark.parametrize("method", ["transform", "get_feature_names_out"])
def test_unfitted_raises_not_fitted_error(method):
    with pytest.raises(NotFittedError, match=r"This TextTfidf instance is not fitted"):
        getattr(TextTfidf(), method)(column(_TEST))


@pytest.mark.parametrize("step", _STEPS)
def test_fit_returns_self_and_sets_n_features_in(step):
    step = clone(step)
    assert step.fit(column(_TRAIN)) is step
    assert step.n_features_in_ == 1


@pytest.mark.parametrize("step", _STEPS)
def test_fit_transform_equals_fit_then_transform(step):
    a = clone(step).fit_transform(column(_TRAIN))
    b = clone(step).fit(column(_TRAIN)).transform(column(_TRAIN))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("step", _STEPS)
def test_fit_is_idempotent(step):
    step = clone(step).fit(column(_TRAIN))
    first = step.transform(column(_TEST))
    np.testing.assert_array_equal(
        step.fit(column(_TRAIN)).transform(column(_TEST)), first
    )


@pytest.mark.parametrize("step", _STEPS)
def test_survives_pickling(step):
    step = clone(step).fit(column(_TRAIN))
    again = pickle.loads(pickle.dumps(step))
    np.testing.assert_array_equal(
        again.transform(column(_TEST)), step.transform(column(_TEST))
    )


@pytest.mark.parametrize("step", _STEPS)
def test_transform_is_invariant_to_row_order_and_batch_subsets(step):
    step = clone(step).fit(column(_TRAIN))
    whole = step.transform(column(_TEST))
    order = np.random.default_rng(0).permutation(len(_TEST))
    np.testing.assert_array_equal(
        step.transform(column([_TEST[i] for i in order])), whole[order]
    )
    parts = np.vstack(
        [step.transform(column(_TEST[i : i + 2])) for i in range(0, len(_TEST), 2)]
    )
    np.testing.assert_array_equal(parts, whole)


def test_frame_feature_names_are_checked_at_transform():
    step = TextTfidf().fit(pd.DataFrame({"review": _TRAIN}))
    assert step.feature_names_in_.tolist() == ["review"]
    with pytest.raises(ValueError, match=r"feature names"):
        step.transform(pd.DataFrame({"title": _TEST}))
