import numpy as np
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
