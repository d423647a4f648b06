import random

import numpy as np
import pytest
import torch

from fcn_lib import config


@pytest.mark.parametrize("name", ["smoke", "cpu", "real", "full"])
def test_every_profile_loads_and_names_itself(name):
    profile = config.load_profile(name)
    assert profile.profile == name
    assert isinstance(profile.val_fraction, float)


def test_profile_files_hold_only_what_differs_from_the_defaults():
    """Each value is written once: a file that repeats a default hides which settings it changes."""
    defaults = config.Profile().to_dict()
    for path in sorted(config.profile_path("cpu").parent.glob("*.yaml")):
        written = config.profile_file(path)
        for name, value in written.items():
            if name == "schedules":
                for stage, fields in value.items():
                    assert fields != {k: defaults[name][stage][k] for k in fields}, f"{path.name}: {stage}"
            elif name != "profile":
                assert value != defaults[name], f"{path.name}: {name} repeats the default {value!r}"


def test_the_real_profile_is_the_cpu_recipe_without_the_aids_meant_for_rendered_sneakers():
    """Chapter 07 holds the real profile's network up as the yardstick of the rendered catalogue, so the
    two must share network, schedule and batches on white; only the data, the three aids that carry
    rendered sneakers over to photographs, the plain backdrops and the photo statistics that segmenting
    blends in, both for the same reason (book/tuning.md), may differ."""
    real, cpu = config.load_profile("real").to_dict(), config.Profile().to_dict()
    differing = {name for name in cpu if real[name] != cpu[name]}
    assert differing == {"profile", "sneakers", "backgrounds", "random_convolution", "restyle", "distractors",
                         "plain_backdrops", "photo_statistics"}


@pytest.mark.parametrize("name", ["smoke", "cpu", "real", "full"])
def test_profiles_on_real_photos_leave_out_the_aids_meant_for_rendered_sneakers(name):
    """The aids carry rendered sneakers over to photographs and cost a network trained on real shots
    (book/tuning.md), so a profile uses them exactly when it trains on the rendered catalogue."""
    profile = config.load_profile(name)
    aids = (profile.random_convolution, profile.restyle, profile.distractors, profile.plain_backdrops,
            profile.photo_statistics)
    assert all(aids) if profile.sneakers == "embedded" else not any(aids), aids


def test_a_file_changes_only_the_schedule_fields_it_names(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text("profile: short\nschedules:\n  fcn16s: {iterations: 7}\n")
    profile = config.load_profile(path)
    assert profile.schedules["fcn16s"] == config.StageSettings(7, config.Profile().schedules["fcn16s"].lr)
    assert profile.schedules["fcn32s"] == config.Profile().schedules["fcn32s"]
    faster = profile.replace(schedules={"fcn16s": {"lr": 0.5}})
    assert faster.schedules["fcn16s"] == config.StageSettings(7, 0.5)
    assert config.load_profile("smoke").schedules["fcn32s"] == config.StageSettings(4, 0.001, 3)


@pytest.mark.parametrize(("text", "error", "message"), [
    ("schedules: {fcn4s: {iterations: 3}}", ValueError, r"bad\.yaml: unknown stage\(s\) fcn4s"),
    ("schedules: {fcn32s: {steps: 3}}", ValueError, r"bad\.yaml.*schedules\.fcn32s\.steps"),
    ("schedules: {fcn32s: {iterations: -3}}", ValueError, r"bad\.yaml: schedules\.fcn32s: step counts"),
    ("schedules: {fcn32s: {lr: 1e-8}}", TypeError, r"bad\.yaml.*schedules\.fcn32s\.lr.*1\.0e-8"),
    ("schedules: {fcn32s: 3}", TypeError, r"bad\.yaml: 'schedules' maps schedule names"),
    ("schedules: {fcn32s: {lr: '0.001'}}", TypeError, r"bad\.yaml.*'schedules\.fcn32s\.lr' should be float"),
    ("schedules: {fcn32s: {lr: 0}}", ValueError, r"bad\.yaml: schedules\.fcn32s\.lr must be positive"),
    ("batch_size: 0", ValueError, r"bad\.yaml: setting 'batch_size' must be positive"),
    ("val_every: -250", ValueError, r"bad\.yaml: setting 'val_every' must be positive"),
    ("num_workers: -1", ValueError, r"bad\.yaml: setting 'num_workers' cannot be negative"),
    ("white_share: 1.5", ValueError, r"bad\.yaml: setting 'white_share' is a share between 0 and 1"),
    ("image_size: [128", ValueError, r"bad\.yaml: not valid YAML"),
    ("amp: true", TypeError, r"bad\.yaml: setting 'amp' should be str"),
    ("normalisation: group", ValueError, r"bad\.yaml.*'normalisation' must be one of"),
    ("backbone_weights: imagenet", ValueError, r"bad\.yaml.*set normalisation: none"),
    ("photo_statistics: 2", ValueError, r"bad\.yaml: setting 'photo_statistics' is a share between 0 and 1"),
])
def test_bad_schedules_name_the_file_and_the_key(tmp_path, text, error, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"profile: bad\n{text}\n")
    with pytest.raises(error, match=message):
        config.load_profile(bad)


def test_cpu_profile_equals_the_dataclass_defaults():
    assert config.load_profile("cpu") == config.Profile()


def test_unknown_and_mistyped_settings_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: bad\nimage_sise: 64\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*image_sise"):
        config.load_profile(bad)
    bad.write_text("profile: bad\nimage_size: '64'\n")
    with pytest.raises(TypeError, match=r"bad\.yaml.*image_size"):
        config.load_profile(bad)
    with pytest.raises(FileNotFoundError, match="available: .*cpu"):
        config.load_profile("nonexistent")


def test_the_profile_accepts_exactly_the_normalisations_the_trunk_builds():
    from fcn_lib import models

    assert config.NORMALISATIONS == models.NORMALISATIONS


def test_imagenet_weights_come_with_the_plain_trunk(tmp_path):
    # The refusals of a normalised trunk with ImageNet weights are in the table of bad files above.
    assert config.load_profile("full").normalisation == "none"  # ImageNet's VGG-16 has none
    plain = tmp_path / "plain.yaml"
    plain.write_text("profile: plain\nbackbone_weights: imagenet\n")
    assert config.load_profile(plain, normalisation="none").backbone_weights == "imagenet"


def test_overrides_are_checked_like_the_file():
    profile = config.load_profile("cpu", image_size=128)
    assert profile.image_size == 128
    assert profile.replace(val_fraction=1).val_fraction == 1.0
    with pytest.raises(TypeError):
        profile.replace(seed="zero")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))  # noqa: NPY002

    config.seed_everything(3)
    first = draw()
    config.seed_everything(3)
    assert draw() == first


def test_provenance_records_profile_config_and_code_version():
    record = config.provenance(config.load_profile("smoke"))
    assert record["profile"] == "smoke"
    assert record["config"]["catalog_count"] == config.load_profile("smoke").catalog_count
    assert record["code_version"] and record["code_version"] != "unknown"


def test_a_notebook_namespace_overrides_its_profile():
    namespace = {"profile": "smoke", "image_size": 48, "np": object(), "width": 0.5}
    profile = config.from_notebook(namespace)
    assert (profile.profile, profile.image_size, profile.width) == ("smoke", 48, 0.5)
    assert profile.batch_size == config.load_profile("smoke").batch_size
