import numpy as np
import pytest
from PIL import Image

from fcn_lib import masks, synth
from fcn_lib.images import BadImage, load_photo
from fcn_lib.masks import read_mask
from fcn_lib.metrics import binary_iou
from tests.conftest import SHARED, needs_shared_data


def test_seed_rule_is_the_white_threshold():
    image = np.full((4, 4, 3), 255, np.uint8)
    image[0, 0] = (240, 240, 240)  # within 20 of white: background
    image[1, 1] = (255, 255, 200)  # one channel darker: sneaker
    expected = np.zeros((4, 4), bool)
    expected[1, 1] = True
    assert np.array_equal(masks.seed_mask(image, tolerance=20), expected)


def test_robust_beats_the_seed_rule_and_is_nearly_exact(rendered):
    images, truths, specs = rendered
    seed = np.array([binary_iou(masks.seed_mask(i), t) for i, t in zip(images, truths, strict=True)])
    robust = np.array([binary_iou(masks.robust_mask(i), t) for i, t in zip(images, truths, strict=True)])
    white = np.array([s.is_white for s in specs])
    glossy = np.array([s.reflection > 0 for s in specs])  # a reflection is not a shadow: no rule here
    assert white.any() and glossy.any() and not glossy.all()
    assert robust[~glossy].mean() >= 0.96, robust[~glossy].mean()
    assert robust[white].mean() > seed[white].mean()
    assert robust[~glossy].min() > 0.85


def test_white_shoe_on_light_grey_keeps_its_white_inside():
    rng = np.random.default_rng(5)
    spec = synth.sample_spec(rng)
    spec = type(spec)(**{**spec.__dict__, "colourway": "white", "upper": (246, 246, 244), "reflection": 0.0,
                         "overlay": (246, 246, 244), "background": (236, 236, 236), "shadow": 0.2})
    image, truth = synth.render(spec, 160, rng)
    assert binary_iou(masks.robust_mask(image), truth) > 0.93
    assert binary_iou(masks.seed_mask(image), truth) < 0.8  # grey paper is not "white" to the seed rule


def test_outline_refinement_decides_blended_pixels_by_their_share():
    image = np.full((40, 40, 3), 250, np.uint8)
    image[10:30, 10:30] = 50
    image[10:30, 30] = 250 - 0.3 * 200  # a column 30% covered by the square
    image[10:30, 9] = 250 - 0.7 * 200  # a column 70% covered
    mask = masks.robust_mask(image)
    assert mask[20, 9] and not mask[20, 30] and mask[10:30, 10:30].all()


@pytest.mark.parametrize("make, reason", [
    (lambda: np.random.default_rng(0).integers(170, 255, (64, 64, 3), dtype=np.uint8), "not a plain"),
    (lambda: np.full((64, 64, 3), 40, np.uint8), "not white or light grey"),
    (lambda: np.full((64, 64, 3), 252, np.uint8), "no object found"),
])
def test_unsuitable_photos_are_refused_with_a_reason(make, reason):
    with pytest.raises(masks.MaskFailure, match=reason):
        masks.robust_mask(make())


def test_alpha_channel_is_the_mask_when_present(tmp_path):
    rgba = np.zeros((50, 50, 4), np.uint8)
    rgba[10:40, 5:45] = (250, 250, 250, 255)  # a white shoe: invisible on white, exact by alpha
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    mask = masks.mask_photo(load_photo(tmp_path / "cut.png"))
    assert mask.sum() == 30 * 40 and mask[10:40, 5:45].all()


def test_a_bad_file_does_not_stop_the_batch(tmp_path, rendered):
    Image.fromarray(rendered[0][0]).save(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"not a photo")
    Image.fromarray(rendered[0][1]).save(tmp_path / "c.png")
    outcomes = list(masks.mask_files(sorted(tmp_path.iterdir())))
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert "b.jpg" in outcomes[1].error
    with pytest.raises(ValueError, match="unknown mask method"):
        masks.mask_photo(outcomes[0].photo, "magic")


def test_write_mask_is_0_255_png(tmp_path):
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:4] = True
    saved = np.asarray(Image.open(masks.write_mask(tmp_path / "m.png", mask)))
    assert saved.shape == (5, 7) and set(np.unique(saved)) == {0, 255} and (saved == 255).sum() == 4


@needs_shared_data
@pytest.mark.parametrize("folder", ["sneakers_white", "sneakers_grey"])
def test_real_catalogue_photos_give_clean_single_shoe_masks(folder):
    from scipy import ndimage

    files = sorted((SHARED / folder).iterdir())[: 40 if folder == "sneakers_white" else 8]  # grey: 2 MP each
    outcomes = list(masks.mask_files(files))
    good = [o for o in outcomes if o.error is None]
    assert len(good) >= 0.9 * len(outcomes), [o.error for o in outcomes if o.error]
    for outcome in good:
        mask = outcome.mask
        assert mask.shape == outcome.photo.rgb.shape[:2]
        assert 0.03 < mask.mean() < 0.8, outcome.path
        labels, count = ndimage.label(mask)
        largest = np.bincount(labels.ravel())[1:].max()
        assert largest >= 0.85 * mask.sum(), f"{outcome.path}: not one shoe"


@pytest.mark.parametrize("kind", ["0/255", "0/1", "rgb white", "rgb green", "alpha"])
def test_reference_masks_read_the_same_however_they_were_saved(tmp_path, kind):
    truth = np.zeros((20, 30), bool)
    truth[5:15, 8:20] = True
    values = truth.astype(np.uint8)
    image = {"0/255": Image.fromarray(values * 255), "0/1": Image.fromarray(values),
             "rgb white": Image.fromarray(np.dstack([values * 255] * 3)),
             "rgb green": Image.fromarray(np.dstack([values * 0, values * 200, values * 0])),
             "alpha": Image.fromarray(np.dstack([np.full((20, 30, 3), 90, np.uint8), values * 255]))}[kind]
    image.save(tmp_path / "mask.png")
    assert np.array_equal(read_mask(tmp_path / "mask.png"), truth)
    with pytest.raises(BadImage, match=r"mask\.png: mask is 30x20, its photo is 40x20"):
        read_mask(tmp_path / "mask.png", shape=(20, 40))
