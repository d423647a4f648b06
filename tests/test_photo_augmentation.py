import numpy as np

from fcn_lib import photo_augmentation as augmentation


def test_white_augmentation_without_changes_returns_the_photo_or_its_mirror(rendered):
    unchanged = augmentation.WhiteAugmentation(degrees=0, translate=0, scale=(1, 1), colour=0, hue_degrees=0)
    image, mask = rendered[0][0], rendered[1][0]
    outcomes = set()
    for seed in range(8):
        rgb, label = unchanged(image, mask, np.random.default_rng(seed))
        mirrored = not np.array_equal(label, mask)
        reference_image, reference_mask = (image[:, ::-1], mask[:, ::-1]) if mirrored else (image, mask)
        assert np.array_equal(label, reference_mask)
        assert np.abs(rgb - reference_image).max() <= 1
        outcomes.add(mirrored)
    assert outcomes == {True, False}


def test_white_augmentation_fills_uncovered_paper_with_white_and_no_sneaker():
    image = np.zeros((64, 64, 3), np.uint8)  # all sneaker: whatever is uncovered must come out white
    mask = np.ones((64, 64), bool)
    shifted = augmentation.WhiteAugmentation(degrees=0, translate=0.25, scale=(0.7, 0.7), colour=0,
                                             hue_degrees=0)
    rgb, label = shifted(image, mask, np.random.default_rng(0))
    assert (~label).sum() > 0.3 * label.size
    assert np.all(rgb[~label].mean(-1) > 120)
    assert np.mean(rgb[label] < 60) > 0.97  # bilinear edges aside, the dark photo stays under its mask


def test_plain_backdrops_take_any_colour_evenly_lit_within_their_gradient_and_grain():
    backdrops = [augmentation.plain_backdrop(48, 64, np.random.default_rng(seed)) for seed in range(300)]
    assert all(b.shape == (48, 64, 3) and b.dtype == np.float32 for b in backdrops)
    colours = np.array([b.mean((0, 1)) for b in backdrops])
    brightness = colours.mean(1)
    assert brightness.min() < 60 and brightness.max() > 200  # dark and light ones, not only white
    assert np.all(np.abs(colours.mean(0) - 127.5) < 15)  # no channel favoured
    assert np.median(np.ptp(colours, axis=1)) > 60  # mostly coloured, not grey
    furthest = augmentation.BACKDROP_GRADIENT * 0.75 + 6 * augmentation.BACKDROP_GRAIN
    for b in backdrops:  # plain: no pixel further from its colour than the gradient and grain allow
        assert np.abs(b - b.mean((0, 1))).max() < furthest


def test_a_backdrop_replaces_the_paper_and_nothing_of_the_sneaker():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    mask = np.zeros((32, 40), bool)
    mask[8:20, 5:30] = True
    out = augmentation.on_plain_backdrop(image, mask, np.random.default_rng(1))
    assert out.dtype == np.uint8 and np.array_equal(out[mask], image[mask])
    expected = np.rint(np.clip(augmentation.plain_backdrop(32, 40, np.random.default_rng(1)), 0, 255))
    assert np.array_equal(out[~mask], expected[~mask])
    again = augmentation.on_plain_backdrop(image, mask, np.random.default_rng(1))
    assert np.array_equal(out, again)  # a pure function of the draw

