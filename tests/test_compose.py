import numpy as np
import pytest

from fcn_lib import compose


def _cutout(width=40, height=20, colour=(200, 0, 0)):
    rgb = np.zeros((height + 4, width + 4, 3), np.uint8)
    rgb[2:-2, 2:-2] = colour
    mask = np.zeros(rgb.shape[:2], bool)
    mask[2:-2, 2:-2] = True
    return compose.make_cutout(rgb, mask, "box")


def test_cutout_is_cropped_to_the_mask_with_alpha():
    cutout = _cutout(40, 20)
    assert cutout.image.size == (40, 20) and np.asarray(cutout.image)[..., 3].min() == 255
    with pytest.raises(ValueError, match="empty"):
        compose.make_cutout(np.zeros((5, 5, 3), np.uint8), np.zeros((5, 5), bool), "nothing")


def test_paste_is_the_alpha_blend_and_labels_the_opaque_half():
    image = np.full((10, 10, 3), 100.0, np.float32)
    label = np.zeros((10, 10), bool)
    sneaker = np.full((2, 3, 3), 200.0, np.float32)
    alpha = np.array([[1.0, 0.5, 0.0], [0.25, 0.75, 1.0]], np.float32)
    compose.paste(image, label, sneaker, alpha, x=4, y=6)
    expected = 100.0 + alpha * 100.0
    assert np.allclose(image[6:8, 4:7, 0], expected)
    assert np.array_equal(label[6:8, 4:7], alpha >= 0.5) and label.sum() == 4
    assert (image[:6] == 100).all()


def test_paste_clips_at_the_image_border():
    image = np.zeros((8, 8, 3), np.float32)
    label = np.zeros((8, 8), bool)
    compose.paste(image, label, np.ones((4, 4, 3), np.float32), np.ones((4, 4), np.float32), x=-2, y=6)
    assert label.sum() == 2 * 2 and label[6:, :2].all()
    compose.paste(image, label, np.ones((4, 4, 3), np.float32), np.ones((4, 4), np.float32), x=20, y=20)
    assert label.sum() == 4


def _scene(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def test_a_composite_is_a_pure_function_of_the_generator():
    cutouts = [_cutout(), _cutout(30, 30, (0, 0, 250))]
    a = compose.compose(_scene(), cutouts, 64, np.random.default_rng(7))
    b = compose.compose(_scene(), cutouts, 64, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert a[0].shape == (64, 64, 3) and a[0].dtype == np.uint8 and a[1].shape == (64, 64)


def test_label_covers_exactly_the_pasted_sneakers():
    settings = compose.PasteSettings(empty=0.0, jitter=0.0, feather=0.0, max_sneakers=1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        image, label, (placement,) = compose.compose(np.full((100, 100, 3), 255, np.uint8), [_cutout()], 64,
                                                     rng, settings)
        box = np.zeros_like(label)
        box[placement.y:placement.y + placement.height, placement.x:placement.x + placement.width] = True
        assert label.any() and not (label & ~box).any()
        assert image[label, 1].max() < 60 and image[label, 0].min() > 150  # the red box shows where labelled


def test_empty_share_and_several_sneakers():
    rng = np.random.default_rng(2)
    counts = [len(compose.compose(_scene(), [_cutout()], 64, rng,
                                  compose.PasteSettings(empty=0.3, max_sneakers=3))[2]) for _ in range(300)]
    counts = np.bincount(counts, minlength=4)
    assert 0.2 < counts[0] / 300 < 0.4 and counts[1] and counts[2] and counts[3]
    assert not compose.compose(_scene(), [_cutout()], 64, rng, compose.PasteSettings(empty=1.0))[1].any()


def test_ground_prior_puts_sneakers_lower_than_uniform_placement():
    def mean_row(placement):
        rng = np.random.default_rng(3)
        settings = compose.PasteSettings(empty=0.0, placement=placement)
        rows = [np.nonzero(compose.compose(_scene(), [_cutout()], 64, rng, settings)[1])[0].mean()
                for _ in range(200)]
        return np.mean(rows)

    assert mean_row("ground") > mean_row("uniform") + 4


def test_feathering_blends_the_edge_without_moving_the_label():
    settings = dict(empty=0.0, jitter=0.0, flip=0.0, scale=(0.5, 0.5), crop=(1.0, 1.0))
    hard = compose.compose(np.zeros((64, 64, 3), np.uint8), [_cutout(40, 40, (250, 250, 250))], 64,
                           np.random.default_rng(4), compose.PasteSettings(feather=0.0, **settings))
    soft = compose.compose(np.zeros((64, 64, 3), np.uint8), [_cutout(40, 40, (250, 250, 250))], 64,
                           np.random.default_rng(4), compose.PasteSettings(feather=1.5, **settings))
    assert abs(int(hard[1].sum()) - int(soft[1].sum())) <= 0.1 * hard[1].sum()
    grey = lambda image: ((image[..., 0] > 20) & (image[..., 0] < 230)).sum()  # noqa: E731
    assert grey(soft[0]) > grey(hard[0])


def test_seed_recipe_and_bad_settings():
    seed = compose.PasteSettings.seed()
    assert seed.feather == 0 and seed.empty == 0 and seed.flip == 0 and seed.placement == "uniform"
    with pytest.raises(ValueError, match="placement"):
        compose.PasteSettings(placement="ceiling")
    with pytest.raises(ValueError, match="scale"):
        compose.PasteSettings(scale=(0.5, 0.2))


def test_colour_jitter_is_saturation_then_contrast_then_brightness():
    rgb = np.random.default_rng(0).uniform(0, 255, (20, 30, 3)).astype(np.float32)
    brightness, contrast, saturation = 1.0 + 0.3 * np.random.default_rng(5).uniform(-1, 1, 3)
    grey = rgb.mean(axis=-1, keepdims=True)
    saturated = grey + saturation * (rgb - grey)
    expected = (saturated - saturated.mean()) * contrast + saturated.mean() * brightness
    assert np.allclose(compose.colour_jitter(rgb, 0.3, np.random.default_rng(5)), expected, atol=1e-3)
    assert compose.colour_jitter(rgb, 0.0, np.random.default_rng(5)) is rgb


def test_hue_rotation_keeps_greys_and_turns_primaries_into_each_other():
    greys = np.array([[0, 0, 0], [128, 128, 128], [255, 255, 255]], np.float32)
    assert np.allclose(compose.rotate_hue(greys, 37.0), greys, atol=1e-3)
    primaries = np.eye(3, dtype=np.float32) * 200  # red, green, blue
    assert np.allclose(compose.rotate_hue(primaries, 120.0), np.roll(primaries, 1, axis=1), atol=1e-3)
    assert np.allclose(compose.rotate_hue(primaries, 360.0), primaries, atol=1e-3)


def test_distractors_are_pasted_but_never_labelled():
    """On a flat scene with no sneaker, everything pasted is a distractor: the image changes, the label
    stays empty."""
    settings = compose.PasteSettings(empty=1.0, distractors=3, scene_jitter=0.0, flip=0.0)
    flat = np.full((100, 100, 3), 128, np.uint8)
    changed = 0
    for seed in range(20):
        image, label, placements = compose.compose(flat, [_cutout()], 64, np.random.default_rng(seed),
                                                   settings)
        assert not label.any() and placements == []
        changed += bool(np.abs(image.astype(int) - 128).max() > 10)
    assert changed >= 5  # many draws paste an object that shows (those cut from a flat scene do not)
    plain = compose.compose(flat, [_cutout()], 64, np.random.default_rng(0),
                            compose.PasteSettings(empty=1.0, scene_jitter=0.0))
    assert np.abs(plain[0].astype(int) - 128).max() <= 2


def test_a_restyled_sneaker_keeps_its_shading_and_label_and_takes_the_textures_colours():
    rgb = np.zeros((10, 20, 3), np.float32)
    rgb[:, :10], rgb[:, 10:] = 50.0, 150.0  # a dark half and a light half
    texture = np.zeros((10, 20, 3), np.float32)
    texture[..., 2] = 200.0  # blue
    out = compose.restyled(rgb, texture)
    assert (out[..., :2] == 0).all() and out[0, 15, 2] > out[0, 5, 2] > 0  # blue, light where it was light
    settings = compose.PasteSettings(empty=0.0, jitter=0.0, feather=0.0, restyle=1.0, scene_jitter=0.0)
    green = np.zeros((100, 100, 3), np.uint8)
    green[..., 1] = 200
    image, label, _ = compose.compose(green, [_cutout(colour=(200, 0, 0))], 64, np.random.default_rng(3),
                                      settings)
    assert label.any() and image[label, 0].max() < 10 and image[label, 1].mean() > 100  # green, not red
