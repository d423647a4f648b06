from pathlib import Path

import pytest

from fcn_lib import paths


def test_root_is_the_checkout_from_any_directory(monkeypatch, tmp_path):
    expected = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    assert paths.repo_root() == expected
    assert paths.artifacts_dir("cpu") == expected / "artifacts" / "cpu"
    assert paths.figures_dir("smoke").parent == paths.artifacts_dir("smoke")
    assert paths.profiles_dir().is_dir()


def test_environment_variable_overrides_and_is_checked(monkeypatch, tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_config.yml").write_text("title: x\n")
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    assert paths.repo_root() == tmp_path.resolve()
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="not an FCN Sneakers checkout"):
        paths.repo_root()


def test_cache_can_be_moved_by_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    assert paths.cache_dir() == paths.repo_root() / "data" / "cache"
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path))
    assert paths.cache_dir() == tmp_path


def test_artifacts_can_be_moved_by_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.ARTIFACTS_ENV, raising=False)
    assert paths.figures_dir("cpu") == paths.repo_root() / "artifacts" / "cpu" / "figures"
    monkeypatch.setenv(paths.ARTIFACTS_ENV, str(tmp_path))
    assert paths.figures_dir("cpu") == tmp_path / "cpu" / "figures"
