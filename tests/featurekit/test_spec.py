"""Declarations: round trips through JSON and YAML, and SpecError at declaration time."""

import json

import pytest

import featurekit as fk


def _full_feature_set() -> fk.FeatureSet:
    """Every option at a non-default value somewhere, including awkward YAML scalars."""
    return fk.FeatureSet(
        "credit",
        [
            fk.Numeric("age", dtype="int", impute=30, clip=(0, 120), bounds=(0, None)),
            fk.Numeric(
                "income",
                impute=0.5,
                scale="robust",
                clip=(None, 1e6),
                log1p=True,
                bounds=(0.0, None),
            ),
            fk.Numeric("ratio", impute="median", scale="minmax", nullable=True),
            fk.Numeric("score", scale="standard", clip=(-1.5, 2)),
            # 'on', 'no', 'yes', 'null' and '1.5' are booleans / null / numbers in YAML 1.1
            fk.Categorical(
                "on",
                impute="no",
                encode="ordinal",
                unknown="ignore",
                min_frequency=0.25,
            ),
            fk.Categorical(
                "yes",
                impute="most_frequent",
                unknown="other",
                min_frequency=3,
                max_categories=4,
                nullable=False,
            ),
            fk.Categorical("null", impute="1.5"),
        ],
        version=3,
    )


# -- round trips ----------------------------------------------------------------------


def test_json_round_trip_gives_an_equal_feature_set():
    fs = _full_feature_set()
    assert fk.FeatureSet.from_json(fs.to_json()) == fs


def test_yaml_round_trip_gives_an_equal_feature_set():
    fs = _full_feature_set()
    assert fk.FeatureSet.from_yaml(fs.to_yaml()) == fs


def test_dict_round_trip_gives_an_equal_feature_set():
    fs = _full_feature_set()
    assert fk.FeatureSet.from_dict(fs.to_dict()) == fs


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_round_trip_keeps_open_interval_ends_as_none(fmt):
    fs = _full_feature_set()
    back = getattr(fk.FeatureSet, f"from_{fmt}")(getattr(fs, f"to_{fmt}")())
    assert back["age"].bounds == (0, None)
    assert back["income"].clip == (None, 1e6)
    assert back["income"].bounds == (0.0, None)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize(
    ("column", "attribute", "expected"),
    [
        ("age", "impute", (30, int)),
        ("income", "impute", (0.5, float)),
        ("age", "clip", ((0, int), (120, int))),
        ("score", "clip", ((-1.5, float), (2, int))),
        ("on", "min_frequency", (0.25, float)),
        ("yes", "min_frequency", (3, int)),
    ],
)
def test_round_trip_keeps_int_and_float_constants_apart(
    fmt, column, attribute, expected
):
    # 0 == 0.0 in Python, so equality alone would not notice an int turning into a float
    fs = _full_feature_set()
    back = getattr(fk.FeatureSet, f"from_{fmt}")(getattr(fs, f"to_{fmt}")())
    value = getattr(back[column], attribute)
    if isinstance(value, tuple):
        assert [(v, type(v)) for v in value] == list(expected)
    else:
        assert (value, type(value)) == expected


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_round_trip_keeps_strings_that_look_like_other_yaml_scalars(fmt):
    fs = _full_feature_set()
    back = getattr(fk.FeatureSet, f"from_{fmt}")(getattr(fs, f"to_{fmt}")())
    assert back.columns == ["age", "income", "ratio", "score", "on", "yes", "null"]
    assert back["on"].impute == "no"
    assert back["null"].impute == "1.5"


def test_to_dict_omits_defaults():
    fs = fk.FeatureSet("d", [fk.Numeric("x"), fk.Categorical("c")])
    assert fs.to_dict() == {
        "name": "d",
        "version": 1,
        "features": [
            {"kind": "numeric", "name": "x"},
            {"kind": "categorical", "name": "c"},
        ],
    }


def test_to_json_is_plain_json_with_lists_for_intervals():
    fs = fk.FeatureSet("d", [fk.Numeric("x", clip=(0, None))])
    data = json.loads(fs.to_json())
    assert data["features"][0]["clip"] == [0, None]


def test_from_yaml_reads_a_handwritten_declaration():
    text = """
name: credit
version: 2
features:
  - {kind: numeric, name: age, impute: median, clip: [0, null]}
  - {kind: categorical, name: country, impute: missing, unknown: other}
"""
    assert fk.FeatureSet.from_yaml(text) == fk.FeatureSet(
        "credit",
        [
            fk.Numeric("age", impute="median", clip=(0, None)),
            fk.Categorical("country", impute="missing", unknown="other"),
        ],
        version=2,
    )


def test_declared_list_interval_equals_declared_tuple_interval():
    assert fk.Numeric("x", clip=[0, None]) == fk.Numeric("x", clip=(0, None))


# -- repr ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "text"),
    [
        (fk.Numeric("age"), "Numeric('age')"),
        (
            fk.Numeric("income", impute="median", scale="standard", clip=(0, None)),
            "Numeric('income', impute='median', scale='standard', clip=[0, None])",
        ),
        (
            fk.Numeric("n", dtype="int", bounds=(0, 10), nullable=True),
            "Numeric('n', dtype='int', bounds=[0, 10], nullable=True)",
        ),
        (fk.Categorical("country"), "Categorical('country')"),
        (
            fk.Categorical(
                "channel", impute="missing", unknown="other", max_categories=5
            ),
            "Categorical('channel', impute='missing', unknown='other', max_categories=5)",
        ),
    ],
)
def test_feature_repr_reads_like_its_declaration(feature, text):
    assert repr(feature) == text


def test_feature_set_repr_reads_like_its_declaration():
    fs = fk.FeatureSet(
        "credit",
        [fk.Numeric("age", clip=(0, 120)), fk.Categorical("country")],
        version=2,
    )
    assert repr(fs) == (
        "FeatureSet('credit', [Numeric('age', clip=[0, 120]), Categorical('country')], "
        "version=2)"
    )


# -- SpecError at declaration time ----------------------------------------------------


def test_spec_error_is_a_featurekit_error_and_a_value_error():
    assert issubclass(fk.SpecError, fk.FeaturekitError)
    assert issubclass(fk.SpecError, ValueError)


def test_duplicate_names_are_refused():
    with pytest.raises(fk.SpecError, match=r"declares \['age'\] more than once"):
        fk.FeatureSet("d", [fk.Numeric("age"), fk.Categorical("age"), fk.Numeric("x")])


def test_every_duplicate_name_is_reported():
    with pytest.raises(fk.SpecError, match=r"\['a', 'b'\] more than once"):
        fk.FeatureSet(
            "d", [fk.Numeric("a"), fk.Numeric("b"), fk.Numeric("a"), fk.Numeric("b")]
        )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: fk.Numeric("x", scale="zscore"), r"scale='zscore' is not supported"),
        (lambda: fk.Numeric("x", impute="mode"), r"impute='mode' is not supported"),
        (lambda: fk.Numeric("x", dtype="str"), r"dtype='str' is not supported"),
        (
            lambda: fk.Categorical("c", encode="bloom"),
            r"encode='bloom' is not supported",
        ),
        (
            lambda: fk.Categorical("c", unknown="drop"),
            r"unknown='drop' is not supported",
        ),
    ],
)
def test_unknown_option_values_are_refused(make, match):
    with pytest.raises(fk.SpecError, match=match):
        make()


def test_unknown_option_message_lists_the_allowed_values():
    with pytest.raises(fk.SpecError, match=r"'standard', 'minmax', 'robust'"):
        fk.Numeric("x", scale="zscore")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"log1p": True},
        {"log1p": True, "clip": (-1, None)},
        {"log1p": True, "bounds": (None, 5)},
    ],
)
def test_log1p_without_a_lower_bound_above_minus_one_is_refused(kwargs):
    with pytest.raises(fk.SpecError, match=r"log1p needs values above -1"):
        fk.Numeric("x", **kwargs)


@pytest.mark.parametrize("kwargs", [{"clip": (0, None)}, {"bounds": (-0.5, None)}])
def test_log1p_with_a_lower_bound_above_minus_one_is_accepted(kwargs):
    assert fk.Numeric("x", log1p=True, **kwargs).log1p is True


@pytest.mark.parametrize(
    ("clip", "bounds"),
    [((200, 300), (0, 120)), ((None, -5), (0, None)), ((10, None), (None, 5))],
)
def test_clip_outside_bounds_is_refused(clip, bounds):
    with pytest.raises(fk.SpecError, match=r"lies outside bounds"):
        fk.Numeric("x", clip=clip, bounds=bounds)


@pytest.mark.parametrize("option", ["clip", "bounds"])
def test_interval_with_lo_above_hi_is_refused(option):
    with pytest.raises(fk.SpecError, match=rf"{option}=\(5, 1\) has lo > hi"):
        fk.Numeric("x", **{option: (5, 1)})


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ((None, None), r"does nothing"),
        ((float("nan"), 1), r"must not be NaN"),
        (("0", 1), r"must be numbers or None"),
        ((True, 1), r"must be numbers or None"),
        ((0, 1, 2), r"must be a pair"),
        ("0,1", r"must be a pair"),
    ],
)
def test_malformed_interval_is_refused(value, match):
    with pytest.raises(fk.SpecError, match=match):
        fk.Numeric("x", clip=value)


@pytest.mark.parametrize("value", [0, -1, 1.0, 0.0, 1.5, True, "2"])
def test_bad_min_frequency_is_refused(value):
    with pytest.raises(fk.SpecError, match=r"min_frequency=.* must be a count >= 1"):
        fk.Categorical("c", min_frequency=value)


@pytest.mark.parametrize("value", [1, 0, -3, True, 2.5, "4"])
def test_bad_max_categories_is_refused(value):
    with pytest.raises(fk.SpecError, match=r"max_categories=.* must be an int >= 2"):
        fk.Categorical("c", max_categories=value)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: fk.Numeric(""), r"non-empty column name"),
        (lambda: fk.Categorical(3), r"non-empty column name"),
        (lambda: fk.Numeric("x", impute=float("inf")), r"must be finite"),
        (lambda: fk.Numeric("x", log1p=1), r"log1p must be True or False"),
        (lambda: fk.Numeric("x", nullable="yes"), r"nullable must be a bool"),
        (lambda: fk.Categorical("c", impute=0), r"impute must be 'most_frequent'"),
        (lambda: fk.Categorical("c", impute=""), r"impute='' is ambiguous"),
        (lambda: fk.FeatureSet("a/b", [fk.Numeric("x")]), r"without '/'"),
        (lambda: fk.FeatureSet("d", []), r"has no features"),
        (
            lambda: fk.FeatureSet("d", [fk.Numeric("x")], version=0),
            r"version must be an int",
        ),
        (lambda: fk.FeatureSet("d", ["x"]), r"'x' is not a feature"),
    ],
)
def test_other_invalid_declarations_are_refused(make, match):
    with pytest.raises(fk.SpecError, match=match):
        make()


# -- unknown keys and malformed text ----------------------------------------------------


def _valid_dict() -> dict:
    return {
        "name": "d",
        "version": 1,
        "features": [{"kind": "numeric", "name": "x", "scale": "standard"}],
    }


def test_from_dict_refuses_unknown_top_level_keys():
    data = {**_valid_dict(), "owner": "me"}
    with pytest.raises(fk.SpecError, match=r"unknown keys \['owner'\]"):
        fk.FeatureSet.from_dict(data)


def test_from_dict_refuses_unknown_feature_options():
    data = _valid_dict()
    data["features"][0]["scaling"] = "standard"
    with pytest.raises(
        fk.SpecError, match=r"Numeric\('x'\) got unknown options \['scaling'\]"
    ):
        fk.FeatureSet.from_dict(data)


@pytest.mark.parametrize("kind", ["image", None])
def test_from_dict_refuses_an_unknown_feature_kind(kind):
    data = _valid_dict()
    data["features"][0]["kind"] = kind
    with pytest.raises(fk.SpecError, match=r"Unknown feature kind"):
        fk.FeatureSet.from_dict(data)


def test_from_dict_validates_feature_options():
    data = _valid_dict()
    data["features"][0]["scale"] = "zscore"
    with pytest.raises(fk.SpecError, match=r"scale='zscore' is not supported"):
        fk.FeatureSet.from_dict(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], r"must be a mapping"),
        ({"name": "d", "features": {"x": "numeric"}}, r"'features' must be a list"),
        ({"name": "d"}, r"'features' must be a list"),
        ({"name": "d", "features": ["x"]}, r"A feature must be a mapping"),
    ],
)
def test_from_dict_refuses_a_wrong_shape(data, match):
    with pytest.raises(fk.SpecError, match=match):
        fk.FeatureSet.from_dict(data)


def test_from_json_refuses_unknown_keys():
    text = json.dumps({**_valid_dict(), "owner": "me"})
    with pytest.raises(fk.SpecError, match=r"unknown keys \['owner'\]"):
        fk.FeatureSet.from_json(text)


def test_from_yaml_refuses_unknown_feature_options():
    text = "name: d\nfeatures:\n  - {kind: numeric, name: x, scaling: standard}\n"
    with pytest.raises(fk.SpecError, match=r"unknown options \['scaling'\]"):
        fk.FeatureSet.from_yaml(text)


@pytest.mark.parametrize("text", ['{"name": "d", "features": [', "", "{'name': 'd'}"])
def test_from_json_refuses_malformed_text(text):
    with pytest.raises(fk.SpecError, match=r"FeatureSet JSON is malformed"):
        fk.FeatureSet.from_json(text)


@pytest.mark.parametrize(
    "text", ["name: d\nfeatures: [\n", "name: [d\n", "name: d\n\tfeatures: []\n"]
)
def test_from_yaml_refuses_malformed_text(text):
    with pytest.raises(fk.SpecError, match=r"FeatureSet YAML is malformed"):
        fk.FeatureSet.from_yaml(text)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""])
def test_from_yaml_refuses_text_that_is_not_a_mapping(text):
    with pytest.raises(fk.SpecError, match=r"must be a mapping"):
        fk.FeatureSet.from_yaml(text)


@pytest.mark.parametrize("as_str", [False, True], ids=["Path", "str"])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_featureset_reads_from_a_file_path(tmp_path, fmt, as_str):
    fs = fk.FeatureSet("credit", [fk.Numeric("age", bounds=(18, 120))])
    path = tmp_path / f"features.{fmt}"
    path.write_text(fs.to_yaml() if fmt == "yaml" else fs.to_json())
    read = fk.FeatureSet.from_yaml if fmt == "yaml" else fk.FeatureSet.from_json
    assert read(str(path) if as_str else path) == fs


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_missing_featureset_file_is_named_in_the_error(tmp_path, fmt):
    read = fk.FeatureSet.from_yaml if fmt == "yaml" else fk.FeatureSet.from_json
    with pytest.raises(fk.SpecError, match=r"Cannot read the FeatureSet file .*features"):
        read(str(tmp_path / f"features.{fmt}"))
