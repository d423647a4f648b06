import dataclasses
import random

import numpy as np
import pytest
import torch

from fcn_lib import config


@pytest.mark.parametrize("name", ["smoke", "cpu", "full"])
def test_every_profile_loads_and_names_itself(name):
    profile = config.load_profile(name)
    assert profile.profile == name
    assert isinstance(profile.val_fraction, float)


def test_profile_files_set_every_setting():
    """A profile that leaves a setting to the code's default hides what it runs."""
    names = {f.name for f in dataclasses.fields(config.Profile)}
    for path in sorted(config.profile_path("cpu").parent.glob("*.yaml")):
        import yaml

        assert set(yaml.safe_load(path.read_text())) == names, path.name


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
