import numpy as np
import pytest
from PIL import Image

from fcn_lib import scenes


def test_embedded_scenes_exist_and_no_photo_is_in_both_splits():
    train, val = scenes.embedded_scenes("train"), scenes.embedded_scenes("val")
    assert len(train) >= 6 and len(val) >= 3
    assert all(s.path.is_file() for s in train + val)
    assert not {s.source for s in train} & {s.source for s in val}
    assert scenes.scenes_for("embedded", "val") == val


def _voc(root, train_ids, val_ids, missing=()):
    year = root / "VOCdevkit" / "VOC2012"
    (year / "JPEGImages").mkdir(parents=True)
    (year / "ImageSets" / "Segmentation").mkdir(parents=True)
    for i in train_ids + val_ids:
        if i not in missing:
            Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(year / "JPEGImages" / f"{i}.jpg")
    (year / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(train_ids) + "\n")
    (year / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(val_ids) + "\n")
    return root / "VOCdevkit"


def test_voc_split_lists_choose_the_scenes(tmp_path):
    root = _voc(tmp_path, ["2007_000032", "2007_000039"], ["2007_000033"])
    assert [s.name for s in scenes.scenes_for(str(root), "train")] == ["2007_000032", "2007_000039"]
    assert [s.name for s in scenes.voc_scenes(root / "VOC2012", "val")] == ["2007_000033"]


@pytest.mark.parametrize("layout", ["missing", "empty", "no lists", "no images"])
def test_a_broken_voc_folder_says_what_layout_is_expected(tmp_path, layout):
    root = tmp_path / "VOCdevkit"
    if layout == "empty":
        root.mkdir()
    elif layout == "no lists":
        (root / "VOC2012" / "JPEGImages").mkdir(parents=True)
    elif layout == "no images":
        root = _voc(tmp_path, ["a"], ["b"], missing=("a", "b"))
    with pytest.raises(FileNotFoundError, match=r"JPEGImages.*ImageSets/Segmentation"):
        scenes.scenes_for(str(root), "train")


def test_folder_split_is_stable_and_disjoint(tmp_path):
    for i in range(40):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / f"scene{i:02d}.png")
    train = scenes.folder_scenes(tmp_path, "train", 0.25)
    val = scenes.folder_scenes(tmp_path, "val", 0.25)
    assert len(train) + len(val) == 40 and not {s.name for s in train} & {s.name for s in val}
    assert 4 <= len(val) <= 16
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "scene99.png")
    assert {s.name for s in val} <= {s.name for s in scenes.folder_scenes(tmp_path, "val", 0.25)}


def test_bad_settings_are_errors(tmp_path):
    with pytest.raises(ValueError, match="split"):
        scenes.embedded_scenes("test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scenes.scenes_for(str(tmp_path / "nowhere"), "train")
    with pytest.raises(FileNotFoundError, match="no photos"):
        scenes.scenes_for(str(tmp_path), "train")


def test_procedural_scenes_are_deterministic_and_varied():
    first = scenes.procedural_scenes(4, 48, seed=3)
    again = scenes.procedural_scenes(4, 48, seed=3)
    assert all(a.shape == (48, 48, 3) and a.dtype == np.uint8 for a in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert len({a.tobytes() for a in first}) == 4
    assert not np.array_equal(first[0], scenes.procedural_scenes(1, 48, seed=4)[0])
