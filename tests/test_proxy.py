"""The real-photo evaluation: which photos it holds out, and what it reports."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_lib import catalog, checkpoints, models, proxy
from fcn_lib.cli import main
from fcn_lib.scenes import folder_scenes, hashed_split
from tests.conftest import needs_shared_data


@pytest.fixture
def folders(tmp_path, rendered):
    """Stand-in real folders: 30 product photos on white and 12 scene photos."""
    images, _, _ = rendered
    white, scenes = tmp_path / "white", tmp_path / "scenes"
    white.mkdir()
    scenes.mkdir()
    for i, image in enumerate(images[:30]):
        Image.fromarray(image).save(white / f"shot{i}.png")
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8)).save(scenes / f"scene{i}.jpg")
    return proxy.RealFolders(white, None, scenes)


def test_only_photos_a_training_run_holds_out_are_scored_and_the_halves_are_disjoint(folders, cache):
    shots = catalog.load_catalog(catalog.prepare_catalog(str(folders.white), size=224, progress=False))
    names = [item["source"].rsplit(".", 1)[0] for item in shots.info["items"]]
    held_out = {n for n in names if hashed_split(n, proxy.VAL_FRACTION) == "val"}
    halves = {}
    for part in ("tune", "test", "all"):
        sets = proxy.proxy_sets(folders, part, count=6, size=64)
        halves[part] = {photo.tobytes() for photo, _ in sets["real_white"]}
        assert set(sets) == {"real_white", "real_on_real", "small_low"}  # no rendered catalogue given
        assert all(len(sets[name]) == 6 for name in ("real_on_real", "small_low"))
    assert not halves["tune"] & halves["test"] and halves["tune"] | halves["test"] == halves["all"]
    expected = {shots.images[names.index(n)].tobytes() for n in held_out}
    assert halves["all"] == expected
    trained_scenes = {s.name for s in folder_scenes(folders.scenes, "train", proxy.VAL_FRACTION)}
    assert trained_scenes.isdisjoint({s.name for s in folder_scenes(folders.scenes, "val", 0.2)})


def test_small_low_sneakers_are_smaller_and_lower(folders, cache):
    sets = proxy.proxy_sets(folders, "all", count=20, size=64)

    def rows_and_area(pairs):
        masks = [mask for _, mask in pairs if mask.any()]
        return (np.mean([np.nonzero(m)[0].mean() / m.shape[0] for m in masks]),
                np.mean([m.mean() for m in masks]))

    ordinary, small = rows_and_area(sets["real_on_real"]), rows_and_area(sets["small_low"])
    assert small[0] > ordinary[0] and small[1] < ordinary[1]


def _untrained_checkpoint(path, seed: int = 0):
    """A tiny FCN-8s (the same weights for every path) whose profile renders a 12-sneaker catalogue."""
    torch.manual_seed(0)
    model = models.FCN8s(width=1 / 32, dropout=0.0)
    checkpoints.save_checkpoint(path, {
        "format": checkpoints.CHECKPOINT_FORMAT, "stage": "fcn8s_background", "model": model.describe(),
        "state_dict": model.state_dict(),
        "profile": {"image_size": 32, "sneakers": "embedded", "catalog_count": 12, "catalog_size": 64,
                    "seed": seed}})
    return path


def test_the_report_scores_every_checkpoint_on_every_set(folders, cache, tmp_path, capsys, monkeypatch):
    path = _untrained_checkpoint(tmp_path / "net.pt")
    monkeypatch.setattr(proxy, "real_folders", lambda: folders)
    assert main(["real", "--checkpoint", str(path), "--part", "all", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    scores = report["checkpoints"][str(path)]
    assert set(scores) == set(proxy.SETS) and report["part"] == "all"
    for name, result in scores.items():
        assert 0 <= result["sneaker_iou"] <= 1 and result["images"] == report["sets"][name]["images"] > 0
    # An untrained network with zero score layers calls nothing sneaker: IoU 0 wherever there are sneakers.
    assert scores["real_white"]["sneaker_iou"] == 0.0
    assert report["photo_statistics"] == {str(path): 0.0}  # a profile from before the setting
    assert main(["real", "--checkpoint", str(path), "--part", "test", "--device", "cpu",
                 "--photo-statistics", "0.25"]) == 0
    assert json.loads(capsys.readouterr().out)["photo_statistics"] == {str(path): 0.25}
    assert main(["real", "--checkpoint", str(path), "--photo-statistics", "1.5"]) == 2
    assert "photo_statistics is a share between 0 and 1, got 1.5" in capsys.readouterr().err


def test_checkpoints_of_one_catalogue_are_scored_on_sets_built_once(folders, cache, tmp_path, monkeypatch):
    paths = [_untrained_checkpoint(tmp_path / f"{i}.pt", seed) for i, seed in enumerate([0, 0, 1])]
    built = []
    real_sets = proxy.proxy_sets
    monkeypatch.setattr(proxy, "proxy_sets", lambda *args: built.append(args) or real_sets(*args))
    report = proxy.report(paths, "all", "cpu", folders)
    assert len(built) == 2  # one for the catalogue of seed 0, one for seed 1
    scores = report["checkpoints"]
    assert scores[str(paths[0])] == scores[str(paths[1])]
    assert set(scores[str(paths[2])]) == set(proxy.SETS)


def test_no_real_images_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(proxy, "real_folders", lambda: None)
    with pytest.raises(FileNotFoundError, match="no real images"):
        proxy.report([tmp_path / "x.pt"])


@needs_shared_data
def test_the_shared_folders_are_found_and_split():
    folders = proxy.real_folders()
    assert folders is not None and folders.grey is not None and folders.scenes.is_dir()
    names = [p.stem for p in sorted(folders.white.iterdir())]
    assert 0.35 < np.mean([proxy.half(n) == "tune" for n in names]) < 0.65
