import json

import numpy as np
import pytest
from PIL import Image

from fcn_lib import catalog, synth
from fcn_lib.metrics import binary_iou


def test_embedded_catalog_is_cached_and_keyed_by_its_settings(cache, monkeypatch):
    first = catalog.prepare_catalog("embedded", count=4, size=64, seed=0, progress=False)
    with monkeypatch.context() as patched:
        patched.setattr(catalog, "write_embedded_catalog", lambda *a, **k: pytest.fail("rendered twice"))
        assert catalog.prepare_catalog("embedded", count=4, size=64, seed=0, progress=False) == first
    other = catalog.prepare_catalog("embedded", count=4, size=64, seed=1, progress=False)
    assert other != first and other.parent == first.parent == cache


def test_loaded_catalog_matches_the_renderer(cache):
    folder = catalog.prepare_catalog("embedded", count=3, size=64, seed=2, progress=False)
    loaded = catalog.load_catalog(folder)
    assert loaded.images.shape == (3, 64, 64, 3) and loaded.masks.dtype == bool and len(loaded) == 3
    image, mask, spec = synth.render_item(2, 1, 64)
    assert np.array_equal(loaded.masks[1], mask)  # masks are lossless
    assert np.abs(loaded.images[1].astype(int) - image).mean() < 3  # images went through JPEG again
    assert loaded.is_white[1] == spec.is_white


def test_a_catalog_is_decoded_once_and_then_read_from_its_arrays(cache, monkeypatch):
    folder = catalog.prepare_catalog("embedded", count=3, size=64, seed=2, progress=False)
    first = catalog.load_catalog(folder)
    with monkeypatch.context() as patched:
        patched.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
        again = catalog.load_catalog(folder)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.masks, again.masks)
    assert again.masks.dtype == bool and not again.images.flags.writeable
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary files


def test_photo_folder_becomes_a_catalog_and_bad_files_are_listed(cache, photo_folder, rendered):
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        photo_folder / "street.png")
    folder = catalog.prepare_catalog(str(photo_folder), size=96, method="robust", progress=False)
    info = json.loads((folder / "catalog.json").read_text())
    assert sorted(s["file"] for s in info["skipped"]) == ["broken.jpg", "street.png"]
    assert all(s["file"] in s["reason"] for s in info["skipped"])
    loaded = catalog.load_catalog(folder)
    assert len(loaded) == 6 and loaded.images.shape[1:] == (96, 96, 3)
    truth = np.asarray(Image.fromarray(rendered[1][0]).resize((96, 96))) > 0
    first = info["items"].index({"stem": "00000", "source": "shoe0.png"})
    assert binary_iou(loaded.masks[first], truth) > 0.9


def test_a_changed_photo_folder_is_prepared_again(cache, photo_folder):
    first = catalog.prepare_catalog(str(photo_folder), size=64, progress=False)
    (photo_folder / "shoe0.png").unlink()
    second = catalog.prepare_catalog(str(photo_folder), size=64, progress=False)
    assert second != first and len(catalog.load_catalog(second)) == 5


def test_square_pads_with_the_border_colour_and_keeps_the_mask_aligned():
    rgb = np.full((20, 40, 3), 240, np.uint8)
    mask = np.zeros((20, 40), bool)
    rgb[5:15, 10:30], mask[5:15, 10:30] = 0, True
    image, squared = catalog.square(rgb, mask, 40)
    assert image.shape == (40, 40, 3) and image[0, 0, 0] == 240
    assert squared[15:25, 10:30].all() and squared.sum() == 200


def test_folder_with_no_usable_photo_is_an_error(cache, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="none of its 1 photos"):
        catalog.write_photo_catalog(tmp_path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="not a catalogue folder"):
        catalog.load_catalog(tmp_path)


def test_catalog_files_do_not_depend_on_worker_count(tmp_path):
    one = catalog.write_embedded_catalog(tmp_path / "one", count=5, size=64, seed=1, workers=1,
                                         progress=False)
    two = catalog.write_embedded_catalog(tmp_path / "two", count=5, size=64, seed=1, workers=2,
                                         progress=False)
    for name in ["images/00004.jpg", "masks/00000.png", "catalog.json"]:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    assert sorted(p.name for p in (one / "masks").iterdir()) == [f"{i:05d}.png" for i in range(5)]


def test_an_interrupted_catalog_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(job):
        if job[1] == 2:
            raise KeyboardInterrupt
        return original(job)

    original = catalog._render_item_to
    monkeypatch.setattr(catalog, "_render_item_to", explode)
    with pytest.raises(KeyboardInterrupt):
        catalog.write_embedded_catalog(tmp_path / "cat", count=4, size=64, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_catalog_rejects_nonsense_sizes(tmp_path):
    with pytest.raises(ValueError, match="count >= 1"):
        catalog.write_embedded_catalog(tmp_path / "x", count=0)


def test_split_is_fixed_disjoint_and_complete():
    train, val = catalog.split_indices(100, 0.2, seed=0)
    again = catalog.split_indices(100, 0.2, seed=0)
    assert np.array_equal(val, again[1]) and len(val) == 20
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
    assert not np.array_equal(val, catalog.split_indices(100, 0.2, seed=1)[1])
    with pytest.raises(ValueError):
        catalog.split_indices(10, 0.0)


def test_photo_catalogues_are_split_by_file_name(tmp_path, photo_folder, cache):
    """A photo keeps its split when photos are added: the split follows names, not positions."""
    from fcn_lib.scenes import hashed_split

    for i in range(6, 30):
        (photo_folder / f"shoe{i}.png").write_bytes((photo_folder / f"shoe{i % 6}.png").read_bytes())
    loaded = catalog.load_catalog(catalog.prepare_catalog(str(photo_folder), size=64, progress=False))
    train, val = loaded.split(0.2)
    names = [item["source"] for item in loaded.info["items"]]
    assert {names[i] for i in val} == {n for n in names if hashed_split(n.rsplit(".", 1)[0], 0.2) == "val"}
    assert len(train) + len(val) == len(loaded) and len(val) > 0 and len(train) > 0
