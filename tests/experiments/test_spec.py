"""ExperimentSpec: factors, values, variants, and the errors a user sees (no TensorFlow)."""

import pytest

from app.services.experiments.spec import ExperimentSpec, Variant
from app.specs import SpecError, parse_spec


def spec(**options) -> ExperimentSpec:
    return parse_spec(ExperimentSpec, options)


def test_variants_are_every_combination_in_the_order_given():
    made = spec(vary=["policy=onset,percent:30.0,peak:3", "contempt=keep,drop"])
    names = [v.name for v in made.variants()]
    assert names[:2] == ["policy=onset, contempt=keep", "policy=onset, contempt=drop"]
    assert len(names) == 6 and names[-1] == "policy=peak:3, contempt=drop"
    assert made.vary["policy"] == ("onset", "percent:30", "peak:3")  # one spelling


def test_each_factor_value_becomes_export_options():
    assert Variant({"policy": "suggested"}).export_options() == {
        "policy": "onset", "fallback": "suggested"}
    assert Variant({"policy": "percent:30"}).export_options() == {
        "policy": "percent", "percent": 30.0}
    assert Variant({"policy": "peak:2", "neutral": "3", "face": "mtcnn",
                    "labels": "original"}).export_options() == {
        "policy": "peak", "peak_frames": 2, "neutral_frames": 3, "face": "mtcnn",
        "labels": "original"}
    assert Variant({"contempt": "merge:disgust"}).export_options() == {
        "merge": ["contempt=disgust"]}
    assert Variant({"contempt": "drop"}).export_options()["exclude"] == ["contempt"]
    assert Variant({"preset": "scratch"}).training() == ("scratch", None)


@pytest.mark.parametrize("vary, words", [
    (["colour=red"], "unknown factor 'colour'"),
    (["policy=onset,sometimes"], "policy: 'sometimes' is not a value"),
    (["policy=percent:100"], "P must be 0 <= P < 100"),
    (["policy=peak:0"], "K must be a whole number"),
    (["contempt=merge:contempt"], "contempt: 'merge:contempt' is not a value"),
    (["preset=huge"], "preset: 'huge' is not a value"),
    (["policy=onset,onset"], "given twice"),
    (["policy"], "is not FACTOR=V1,V2"),
    (["policy=onset", "policy=peak:3"], "varied twice"),
])
def test_bad_factors_and_values_are_refused_naming_them(vary, words):
    with pytest.raises(SpecError) as caught:
        spec(vary=vary)
    assert caught.value.field == "vary" and words in caught.value.message


def test_ranges_and_choices_come_from_the_spec():
    with pytest.raises(SpecError) as caught:
        spec(vary=["policy=onset"], folds=1)
    assert caught.value.field == "folds"
    with pytest.raises(SpecError) as caught:
        spec(vary=["policy=onset"], preset="giant")
    assert caught.value.field == "preset"
    with pytest.raises(SpecError) as caught:
        spec(vary=["policy=onset"], base={"folds": 3})
    assert "the experiment assigns the folds" in caught.value.message
    with pytest.raises(SpecError) as caught:
        spec(vary=["policy=onset"], surprise=1)
    assert caught.value.field == "surprise"


def test_the_id_is_a_hash_of_the_settings():
    a = spec(vary=["policy=onset,peak:3"])
    assert a.digest() == spec(vary={"policy": ["onset", "peak:3"]}).digest()
    assert a.digest() != spec(vary=["policy=onset,peak:3"], folds=4).digest()
