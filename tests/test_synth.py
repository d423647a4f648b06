import numpy as np
import pytest
from scipy import ndimage

from fcn_lib import synth


def test_an_item_is_a_pure_function_of_seed_and_index():
    a_image, a_mask, a_spec = synth.render_item(seed=3, index=7, size=96)
    b_image, b_mask, b_spec = synth.render_item(seed=3, index=7, size=96)
    assert a_spec == b_spec and np.array_equal(a_image, b_image) and np.array_equal(a_mask, b_mask)
    assert synth.render_item(seed=4, index=7, size=96)[2] != a_spec


def test_variety_of_designs_including_white_shoes():
    specs = [synth.sample_spec(np.random.default_rng(i)) for i in range(400)]
    white = np.mean([s.is_white for s in specs])
    assert white >= 0.10, f"only {white:.0%} white uppers"
    assert {s.top for s in specs} == {"low", "mid", "high"}
    assert {s.facing_left for s in specs} == {True, False}
    assert {s.texture for s in specs} == {"leather", "mesh", "knit"}
    assert len({s.colourway for s in specs}) == 5
    assert any(s.background != (255, 255, 255) for s in specs) and any(s.shadow > 0.15 for s in specs)


def test_mask_is_one_solid_shoe_on_a_light_background(rendered):
    images, masks, _ = rendered
    for image, mask in zip(images, masks, strict=True):
        assert 0.05 < mask.mean() < 0.6
        assert ndimage.label(mask)[1] == 1, "a sneaker is one connected shape"
        frame = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert not frame.any(), "the shoe never touches the border"
        far = ~ndimage.binary_dilation(mask, iterations=3)
        far[int(mask.nonzero()[0].max()):] = False  # the shadow lies below the sole
        assert image[far].mean() > 235, "away from the shoe and its shadow the photo is white"


def test_the_image_shows_the_shoe_where_the_mask_says(rendered):
    """Pixels well inside the mask differ from the paper more than pixels well outside do,
    except for white shoes, which is why thresholding fails on them."""
    images, masks, specs = rendered
    for image, mask, spec in zip(images, masks, specs, strict=True):
        inside = ndimage.binary_erosion(mask, iterations=3)
        darkness = 255 - image.astype(float).mean(-1)
        if not spec.is_white:
            assert darkness[inside].mean() > 25


def test_catalog_files_do_not_depend_on_worker_count(tmp_path):
    one = synth.write_catalog(tmp_path / "one", count=5, size=64, seed=1, workers=1, progress=False)
    two = synth.write_catalog(tmp_path / "two", count=5, size=64, seed=1, workers=2, progress=False)
    for name in ["images/00004.jpg", "masks/00000.png", "catalog.json"]:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    assert sorted(p.name for p in (one / "masks").iterdir()) == [f"{i:05d}.png" for i in range(5)]


def test_an_interrupted_catalog_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(job):
        if job[1] == 2:
            raise KeyboardInterrupt
        return original(job)

    original = synth._render_to_files
    monkeypatch.setattr(synth, "_render_to_files", explode)
    with pytest.raises(KeyboardInterrupt):
        synth.write_catalog(tmp_path / "cat", count=4, size=64, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_catalog_rejects_nonsense_sizes(tmp_path):
    with pytest.raises(ValueError, match="count >= 1"):
        synth.write_catalog(tmp_path / "x", count=0)
