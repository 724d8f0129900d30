"""Build the scikit-learn Pipeline a FeatureSet declares: inputs, per-feature transforms, model."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

from featurekit.contract.columns import Columns
from featurekit.declare.columns import Categorical, Numeric, Text
from featurekit.declare.computed import Bucketized, Custom, Derived
from featurekit.declare.expansions import Polynomial, Splines
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import SpecError
from featurekit.exporting.gaps import gap_candidates, refuse_gaps
from featurekit.transforms.basic import CategoryFolder, Clip, Log1p
from featurekit.transforms.impute import ColumnImputer, imputer_for

__all__ = ["FeaturePipeline", "Inputs", "custom_transformer", "make_pipeline"]

_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


class Inputs(TransformerMixin, BaseEstimator):
    """Read raw records into typed columns, exactly as serving will read them.

    Numeric columns become float64 with NaN for missing; categorical columns become
    strings with `featurekit.missing.MISSING` for missing. Values the contract would
    reject (strings in numeric columns, values outside hard bounds) raise
    `ContractError` here too, so training never sees what serving would refuse.

    Parameters
    ----------
    features : FeatureSet
        The declarations.
    """

    def __init__(self, features: FeatureSet) -> None:
        self.features = features

    def fit(self, X: Any, y: Any = None) -> Inputs:
        if not isinstance(self.features, FeatureSet):
            raise SpecError(f"Inputs needs a FeatureSet, got {self.features!r}.")
        self._read(X)
        self.feature_names_in_ = np.array(self.features.columns, dtype=object)
        self.n_features_in_ = len(self.features.columns)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        return self._read(X)

    def _read(self, X: Any) -> pd.DataFrame:
        from featurekit.expr.evaluator import evaluate

        feeds, n = Columns(self.features).coerce(X, check_categories=False)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n)
        data: dict[str, np.ndarray] = {}
        for feature in self.features.inputs:
            col = feeds[feature.name][:, 0]
            data[feature.name] = (
                col.astype(np.float64)
                if feature.kind in ("numeric", "datetime")
                else col
            )
        # computed columns: the numpy twin of what onnx_expr puts in the graph
        for f in self.features.features:
            if isinstance(f, Derived):
                data[f.name] = evaluate(f.expression, data)
            elif isinstance(f, Bucketized):
                data[f.name] = evaluate(f.source, data)  # type: ignore[arg-type]
        return pd.DataFrame(data, index=index, columns=self._names())

    def _names(self) -> list[str]:
        computed = [
            f.name
            for f in self.features.features
            if isinstance(f, Derived | Bucketized)
        ]
        return [*self.features.columns, *computed]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return np.array(self._names(), dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags


def _steps(f: Any, features: FeatureSet) -> tuple[list[tuple[str, Any]], list[str]]:
    """The scikit-learn steps of one model feature, and the columns they read."""
    if isinstance(f, Derived):
        return _steps(f.as_feature(), features)
    if isinstance(f, Numeric):
        return _numeric_steps(f), [f.name]
    if isinstance(f, Categorical):
        return _categorical_steps(f), [f.name]
    if isinstance(f, Bucketized):
        from featurekit.transforms.encoders import Bucketizer

        bucketizer = Bucketizer(
            n_bins=f.bins,
            strategy=None if f.edges is not None else f.strategy,
            edges=None if f.edges is None else list(f.edges),
            encode=f.encode,
        )
        return [("bucketize", bucketizer)], [f.name]
    if isinstance(f, Text):
        from featurekit.transforms.text import TextTfidf

        tfidf = TextTfidf(
            ngram_range=f.ngram_range,
            max_features=f.max_features,
            min_df=f.min_df,
            max_df=f.max_df,
            lowercase=f.lowercase,
            binary=f.binary,
            sublinear_tf=f.sublinear_tf,
            norm=f.norm,
        )
        return [("tfidf", tfidf)], [f.name]
    if isinstance(f, Custom):
        transformer = custom_transformer(f)
        prepare = _prepare(f, features, imputes=_is_imputer(transformer))
        return [*prepare, ("custom", transformer)], list(f.inputs)
    if isinstance(f, Splines):
        from featurekit.transforms.spline import Splines as SplineBasis

        basis = SplineBasis(
            n_knots=f.n_knots,
            degree=f.degree,
            knots=f.knots,
            extrapolation=f.extrapolation,
            include_bias=f.include_bias,
        )
        return [*_prepare(f, features), ("splines", basis)], [f.source]
    if isinstance(f, Polynomial):
        from sklearn.preprocessing import PolynomialFeatures

        products = PolynomialFeatures(
            f.degree, interaction_only=f.interaction_only, include_bias=f.include_bias
        )
        return [*_prepare(f, features), ("polynomial", products)], list(f.inputs)
    raise SpecError(f"{f!r} is not a model feature.")  # pragma: no cover


def _prepare(
    f: Custom | Splines | Polynomial, features: FeatureSet, *, imputes: bool = False
) -> list[tuple[str, Any]]:
    """The step that imputes and clips a reader's inputs as declared, if any do.

    A numeric input that accepts missing values without an imputer would reach the
    transformer as NaN, which scikit-learn's transformers refuse: that is refused here,
    unless the transformer is itself an imputer (`imputes`).
    """
    owner = f"{type(f).__name__}({f.name!r})"
    declared = [features[c] for c in f.inputs]
    gaps = [
        d.name
        for d in declared
        if isinstance(d, Numeric) and d.accepts_missing and d.impute is None
    ]
    if gaps and not imputes:
        raise SpecError(
            f"{owner} reads {gaps!r}, which accept missing values but have no "
            "imputer, and scikit-learn's transformers refuse NaN: add impute=… to "
            f"the columns {owner} reads (e.g. fk.Numeric({gaps[0]!r}, "
            "impute='median')), or declare them nullable=False."
        )
    impute = [getattr(d, "impute", None) for d in declared]
    clip = [getattr(d, "clip", None) for d in declared]
    if all(v is None for v in (*impute, *clip)):
        return []
    return [("impute", ColumnImputer(impute=impute, clip=clip))]


def _is_imputer(transformer: Any) -> bool:
    """Whether `transformer` (or a Pipeline's first step) takes missing values itself."""
    from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer

    if isinstance(transformer, Pipeline) and transformer.steps:
        transformer = transformer.steps[0][1]
    return isinstance(transformer, SimpleImputer | KNNImputer | MissingIndicator)


def _numeric_steps(f: Numeric) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    if f.impute is not None:
        steps.append(("impute", imputer_for(f.impute, strings=False)))
    if f.clip is not None:
        steps.append(("clip", Clip(*f.clip)))
    if f.log1p:
        steps.append(("log1p", Log1p()))
    if f.transform is not None:
        steps.append(("transform", _transform(f)))
    if f.scale is not None:
        steps.append(("scale", _SCALERS[f.scale]()))
    return steps


def _transform(f: Numeric) -> Any:
    """The exact transformer behind ``Numeric(transform=...)``."""
    if f.transform in ("quantile", "quantile-normal"):
        from featurekit.transforms.quantile import Quantiles

        return Quantiles(
            n_quantiles=f.n_quantiles or 1000,
            output_distribution="normal"
            if f.transform == "quantile-normal"
            else "uniform",
        )
    from featurekit.transforms.power import Power

    return Power(method=str(f.transform))


def _categorical_steps(f: Categorical) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    if f.impute is not None:
        steps.append(("impute", imputer_for(f.impute, strings=True)))
    if f.folds:
        steps.append(
            (
                "fold",
                CategoryFolder(
                    min_frequency=f.min_frequency,
                    max_categories=f.max_categories,
                    fold_unseen=f.unknown == "other",
                ),
            )
        )
    # Unseen categories are the contract's business: under unknown="error" serving
    # rejects them before the graph runs. The fitted encoder itself stays lenient
    # (all zeros / code -1), so that an imputed constant never seen in training, or
    # a category present in only one cross-validation fold, does not crash sklearn.
    if f.encode == "hash":
        from featurekit.transforms.encoders import HashEncoder

        steps.append(("encode", HashEncoder(n_buckets=int(f.n_buckets or 0))))
        return steps
    if f.encode == "target":
        from sklearn.model_selection import KFold
        from sklearn.preprocessing import TargetEncoder

        # fit_transform cross-fits (out of fold) on seeded folds, so that refitting
        # gives the same model; transform, which the graph reproduces, uses the full fit
        folds = KFold(5, shuffle=True, random_state=0)
        steps.append(("encode", TargetEncoder(cv=folds)))
        return steps
    if f.encode == "onehot":
        encoder: Any = OneHotEncoder(
            handle_unknown="ignore", sparse_output=False, dtype=np.float64
        )
    else:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64
        )
    steps.append(("encode", encoder))
    return steps


def make_column_transformer(features: FeatureSet) -> ColumnTransformer:
    """The per-feature transforms as one ColumnTransformer, in declaration order."""
    parts: list[tuple[str, Any, list[str]]] = []
    for f in features.model_features:
        steps, cols = _steps(f, features)
        # a Custom block is always a Pipeline ending in its own step: its transformer
        # may be a Pipeline itself, which compile must not take for featurekit's
        if len(steps) == 1 and not isinstance(
            f, Numeric | Categorical | Derived | Custom
        ):
            parts.append((f.name, steps[0][1], cols))
        else:
            parts.append((f.name, Pipeline(steps) if steps else "passthrough", cols))
    # always dense: the graph computes dense tensors, and models compare dense rows
    return ColumnTransformer(
        parts, remainder="drop", verbose_feature_names_out=True, sparse_threshold=0
    )


def make_pipeline(features: FeatureSet, model: Any) -> Pipeline:
    """Return a scikit-learn Pipeline: read inputs, transform each feature, then `model`.

    The result is an ordinary `sklearn.pipeline.Pipeline` with the steps ``inputs``,
    ``features`` and ``model``. It takes raw pandas DataFrames (or lists of dicts) and
    works with `clone`, `GridSearchCV` (``model__C``, ...) and `cross_val_score`.

    Parameters
    ----------
    features : FeatureSet
        The declarations.
    model : estimator
        Any scikit-learn classifier or regressor; `featurekit.export` decides whether
        it can be exported with parity.

    Examples
    --------
    >>> import pandas as pd
    >>> import featurekit as fk
    >>> from sklearn.linear_model import LogisticRegression
    >>> fs = fk.FeatureSet("demo", [fk.Numeric("x", scale="standard"),
    ...                             fk.Categorical("c", unknown="ignore")])
    >>> df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "c": ["a", "b", "a", "b"]})
    >>> pipe = fk.make_pipeline(fs, LogisticRegression()).fit(df, [0, 0, 1, 1])
    >>> pipe.predict(pd.DataFrame({"x": [3.0], "c": ["zz"]})).tolist()
    [1]
    """
    if not isinstance(features, FeatureSet):
        raise SpecError(
            f"make_pipeline needs a FeatureSet as first argument, got {type(features).__name__}."
        )
    # ask the class: a stacking model has predict only once fitted
    if isinstance(model, type) or not (
        hasattr(model, "fit") and hasattr(type(model), "predict")
    ):
        raise SpecError(
            f"make_pipeline needs a scikit-learn estimator with fit and predict, got {model!r}."
        )
    return FeaturePipeline(
        [
            ("inputs", Inputs(features)),
            ("features", make_column_transformer(features)),
            ("model", model),
        ]
    )


class FeaturePipeline(Pipeline):
    """The `Pipeline` `make_pipeline` returns: steps ``inputs``, ``features``, ``model``.

    It is a scikit-learn `Pipeline` in every respect; only a parameter named the way
    scikit-learn's own ``make_pipeline`` names steps (``logisticregression__C``) gets
    an error that says what to write instead (``model__C``).

    Examples
    --------
    >>> import featurekit as fk
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = fk.make_pipeline(fk.FeatureSet("f", [fk.Numeric("x")]),
    ...                         LogisticRegression())
    >>> pipe.set_params(logisticregression__C=0.5)
    Traceback (most recent call last):
    ...
    ValueError: fk.make_pipeline names its steps 'inputs', 'features' and 'model', not after their classes: write 'model__C' instead of 'logisticregression__C'.
    """

    def fit(self, X: Any, y: Any = None, **params: Any) -> FeaturePipeline:
        """Fit as `Pipeline.fit` does, after refusing what the model cannot fit.

        A derived feature missing on training rows before a model that refuses NaN
        raises `SpecError` naming the feature and its missing inputs
        (`featurekit.exporting.gaps`), instead of scikit-learn's "Input X contains
        NaN" from deep inside the model.
        """
        inputs, model = self.steps[0][1], self.steps[-1][1]
        if isinstance(inputs, Inputs) and isinstance(inputs.features, FeatureSet):
            found = gap_candidates(inputs.features, model)
            if found:  # read only when a feature could be missing
                refuse_gaps(model, found, Inputs(inputs.features)._read(X))
        super().fit(X, y, **params)
        return self

    def set_params(self, **params: Any) -> FeaturePipeline:
        by_class = {
            type(step).__name__.lower(): name
            for name, step in self.steps
            if not isinstance(step, str)
        }
        names = {name for name, _ in self.steps}
        for key in params:
            step, sep, rest = key.partition("__")
            if sep and step not in names and step in by_class:
                raise ValueError(
                    "fk.make_pipeline names its steps 'inputs', 'features' and "
                    "'model', not after their classes: write "
                    f"'{by_class[step]}__{rest}' instead of {key!r}."
                )
        super().set_params(**params)
        return self


def custom_transformer(custom: Custom) -> Any:
    """A fresh, unfitted copy of an `fk.Custom` declaration's transformer."""
    from sklearn.base import clone

    if not isinstance(custom.transformer, Mapping):
        return clone(custom.transformer)
    spec = custom.spec
    path = spec["class"]
    if not path.startswith("sklearn.") or spec["params"] is None:
        raise SpecError(
            f"Custom({custom.name!r}): {path} was declared in Python and cannot be "
            "rebuilt from JSON (only scikit-learn classes with plain parameters "
            "can); build the FeatureSet in Python to refit it."
        )
    module, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(module), cls)(**spec["params"])
