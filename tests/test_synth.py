import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from fcn_lib import scenes, synth
from fcn_lib.synth import design, geometry, materials


def test_an_item_is_a_pure_function_of_seed_and_index():
    a_image, a_mask, a_spec = synth.render_item(seed=3, index=7, size=96)
    b_image, b_mask, b_spec = synth.render_item(seed=3, index=7, size=96)
    assert a_spec == b_spec and np.array_equal(a_image, b_image) and np.array_equal(a_mask, b_mask)
    assert synth.render_item(seed=4, index=7, size=96)[2] != a_spec


def test_designs_vary_in_the_proportions_of_real_catalogues():
    specs = [synth.sample_spec(np.random.default_rng(i)) for i in range(1000)]
    share = {way: np.mean([s.colourway == way for s in specs])
             for way in ("white", "black", "grey", "colour")}
    assert share["white"] + share["black"] + share["grey"] > 0.5  # mostly white, black and grey
    assert share["white"] > share["colour"] / 2 and share["white"] >= 0.2
    views = {view: np.mean([s.view == view for s in specs]) for view in design.VIEWS}
    assert views["side"] > 0.5 and views["three_quarter"] > 0.15 and views["above"] > 0.05
    assert 0.05 < np.mean([s.pair for s in specs]) < 0.25
    assert {s.material for s in specs} == set(design.MATERIALS)
    assert {s.logo for s in specs} == set(design.LOGOS)
    assert {s.top for s in specs} == {"low", "mid", "high"}
    assert {s.facing_left for s in specs} == {True, False}
    assert any(s.air_unit for s in specs) and any(s.perforated for s in specs)
    assert any(s.reflection for s in specs)
    assert any(s.background == (255, 255, 255) for s in specs) and min(min(s.background) for s in specs) < 235


def test_mask_is_the_shoe_or_the_pair_on_a_light_background(rendered):
    images, masks, specs = rendered
    for image, mask, spec in zip(images, masks, specs, strict=True):
        assert 0.05 < mask.mean() < 0.6
        labels, count = ndimage.label(mask)
        sizes = np.sort(ndimage.sum_labels(mask, labels, range(1, count + 1)))[::-1]
        shoes = 2 if spec.pair else 1  # one connected shoe, or two; at most a speck of a tab apart
        assert sizes[shoes:].sum() < 0.01 * mask.sum()
        frame = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert not frame.any(), "the shoe never touches the border"
        far = ~ndimage.binary_dilation(mask, iterations=3)
        far[int(mask.nonzero()[0].max()):] = False  # the shadow and any reflection lie below the sole
        assert image[far].mean() > 200, "away from the shoe and its shadow the photo is light paper"


def test_the_image_shows_the_shoe_where_the_mask_says(rendered):
    """Pixels well inside the mask differ from the paper more than pixels well outside do,
    except for white shoes, which is why thresholding fails on them."""
    images, masks, specs = rendered
    for image, mask, spec in zip(images, masks, specs, strict=True):
        inside = ndimage.binary_erosion(mask, iterations=3)
        darkness = 255 - image.astype(float).mean(-1)
        if not spec.is_white and spec.colourway != "grey":
            assert darkness[inside].mean() > 25


@pytest.mark.parametrize("index", range(6))
def test_shadows_reflections_and_paper_never_change_the_mask(index):
    spec = synth.sample_spec(np.random.default_rng(index))
    masks = []
    for changes in ({"reflection": 0.0, "shadow": 0.0, "background": (255, 255, 255)},
                    {"reflection": 0.3, "shadow": 0.35, "background": (228, 228, 228), "exposure": 0.9}):
        image, mask = synth.render(dataclasses.replace(spec, **changes), 96, np.random.default_rng(7))
        masks.append(mask)
    assert np.array_equal(*masks)


def test_three_quarter_and_above_views_reshape_the_silhouette():
    spec = dataclasses.replace(synth.sample_spec(np.random.default_rng(1)), pair=False, angle=0.0)
    masks = {view: synth.render(dataclasses.replace(spec, view=view, turn=0.8), 128,
                                np.random.default_rng(0))[1] for view in design.VIEWS}
    width = {view: np.ptp(np.nonzero(m.any(0))[0]) for view, m in masks.items()}
    assert width["three_quarter"] < width["side"]  # turned towards the camera: foreshortened
    assert not np.array_equal(masks["above"], masks["side"])


def test_a_smooth_curve_passes_through_its_control_points():
    points = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    curve = geometry.smooth(points, closed=True, samples=8)
    assert all(np.min(np.linalg.norm(curve - p, axis=1)) < 1e-9 for p in points)
    assert len(curve) == 4 * 8


@pytest.mark.parametrize("material", design.MATERIALS)
def test_every_material_modulates_the_colour_around_its_own_level(material):
    pattern = materials.pattern(material, (96, 96), np.random.default_rng(0), scale=4.0)
    assert pattern.shape == (96, 96) and 0.85 < pattern.mean() < 1.1 and pattern.std() > 0.01


def test_photo_textures_come_only_from_training_scenes():
    """A validation scene's texture on a training sneaker would teach the network to call that
    scene sneaker."""
    assert len(materials.photo_textures()) == len(scenes.embedded_scenes("train"))


def test_relief_rises_from_the_outline_and_light_comes_from_above():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    height = materials.relief(mask, radius=8)
    assert height[5, 20] < height[8, 20] < height[20, 20] == 1.0 and height[0, 0] == 0
    diffuse, specular = materials.shade(height, (0.0, 60.0), shine=0.3, depth=10)
    assert diffuse[7, 20] > diffuse[32, 20]  # the upper slope faces the light, the lower one turns away
    assert specular.max() > 0
