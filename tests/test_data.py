import numpy as np
import pytest
import torch

from fcn_lib import compose, data, scenes
from fcn_lib.catalog import Catalog


@pytest.fixture(scope="module")
def small_catalog(rendered):
    images, masks, specs = rendered
    info = {"items": [{"stem": f"{i:05d}", "colourway": s.colourway} for i, s in enumerate(specs)]}
    return Catalog(images[:12], masks[:12], [f"{i:05d}" for i in range(12)], info)


def test_white_dataset_returns_the_photo_as_bytes_and_a_binary_mask(small_catalog):
    image, mask = data.WhiteBackgroundDataset(small_catalog, [3])[0]
    assert image.shape == (3, 224, 224) and image.dtype == torch.uint8
    assert mask.dtype == torch.uint8 and set(mask.unique().tolist()) == {0, 1}
    assert np.array_equal(image.permute(1, 2, 0).numpy(), small_catalog.images[3])
    assert np.array_equal(mask.numpy().astype(bool), small_catalog.masks[3])


def test_to_model_normalises_on_the_device_and_round_trips(small_catalog):
    photos = data.WhiteBackgroundDataset(small_catalog, range(4))
    pixels, masks = next(iter(data.evaluation_loader(photos, batch_size=4)))
    images, labels = data.to_model(pixels, masks, torch.device("cpu"), channels_last=True)
    assert images.dtype == torch.float32 and images.is_contiguous(memory_format=torch.channels_last)
    assert labels.dtype == torch.long and torch.equal(labels, masks.long())
    # ImageNet statistics, the ones VGG-16 was trained with:
    expected = (pixels.float() / 255 - torch.tensor(data.IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(
        data.IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(images, expected)
    assert all(np.array_equal(data.to_pixels(image), photo.permute(1, 2, 0).numpy())
               for image, photo in zip(images, pixels, strict=True))  # and back to the same bytes


def test_augmentation_moves_mask_and_image_together(small_catalog):
    torch.manual_seed(0)
    dataset = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True)
    for i in range(12):
        image, mask = dataset[i]
        assert image.dtype == torch.uint8
        pixels = image.permute(1, 2, 0).numpy().astype(float)
        darkness = 255 - pixels.mean(-1)
        sneaker, paper = mask.numpy().astype(bool), ~mask.numpy().astype(bool)
        assert sneaker.any()
        # White uppers are light, but on average the labelled pixels are the non-paper ones.
        assert darkness[sneaker].mean() > darkness[paper].mean() + 5


def test_composite_validation_is_the_same_in_every_run_and_worker(small_catalog, cache):
    backgrounds = data.load_scenes(scenes.embedded_scenes("val"), size=64)
    cutouts = data.catalog_cutouts(small_catalog, range(12))
    first = data.CompositeDataset(cutouts, backgrounds, length=8, size=64, seed=5)
    second = data.CompositeDataset(cutouts, data.load_scenes(scenes.embedded_scenes("val"), 64), 8, 64, 5)
    assert all(torch.equal(first[i][0], second[i][0]) for i in range(8))
    in_process = torch.cat([b[1] for b in data.evaluation_loader(first, 4)])
    in_workers = torch.cat([b[1] for b in data.evaluation_loader(first, 4, num_workers=2)])
    assert torch.equal(in_process, in_workers)
    assert torch.equal(first[(3, 1)][0], second[(3, 1)][0])  # a training key is fixed too
    assert not torch.equal(first[(0, 0)][0], first[0][0])  # ... and differs from the validation item


def test_scene_cache_is_reused_and_shrinks_large_scenes(cache, monkeypatch):
    val = scenes.embedded_scenes("val")
    arrays = data.load_scenes(val, size=32)
    assert all(min(a.shape[:2]) <= 64 for a in arrays) and all(a.dtype == np.uint8 for a in arrays)
    monkeypatch.setattr(data, "load_photo", lambda path: pytest.fail("decoded again"))
    again = data.load_scenes(val, size=32)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, again, strict=True))


def test_training_batches_resume_where_they_stopped_in_any_process(small_catalog):
    dataset = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True, seed=4)
    whole = [b[0] for b in data.training_loader(dataset, 3, start=0, stop=5)]
    resumed = [b[0] for b in data.training_loader(dataset, 3, start=3, stop=5, num_workers=2)]
    assert len(whole) == 5 and all(torch.equal(a, b) for a, b in zip(whole[3:], resumed, strict=True))
    assert not torch.equal(whole[0], whole[1])


def test_plain_backdrops_change_the_paper_of_training_photos_only(small_catalog):
    """The same draws as without backdrops, then the paper replaced: masks and sneaker pixels equal,
    every paper pixel of a photo on a backdrop changed; validation photos keep their paper."""
    plain = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True)
    always = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True, backdrops=1.0)
    half = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True, backdrops=0.5)
    on_backdrop = []
    for key in [(step, slot) for step in range(4) for slot in range(4)]:
        (image, mask), (changed, same_mask) = plain[key], always[key]
        assert torch.equal(mask, same_mask)
        sneaker = mask.bool().expand_as(image)
        assert torch.equal(image[sneaker], changed[sneaker])
        assert (image != changed).any(0)[~mask.bool()].float().mean() > 0.9
        on_backdrop.append(not torch.equal(half[key][0], image))
    assert 0 < sum(on_backdrop) < len(on_backdrop)
    assert torch.equal(always[3][0], plain[3][0])


def test_a_training_step_draws_distinct_photos(small_catalog):
    dataset = data.WhiteBackgroundDataset(small_catalog, range(12), seed=0)
    masks = [dataset[(7, slot)][1] for slot in range(4)]
    assert all(not torch.equal(masks[0], other) for other in masks[1:])


def test_white_dataset_resizes_image_and_mask_together(small_catalog):
    image, mask = data.WhiteBackgroundDataset(small_catalog, [0], size=96)[0]
    assert image.shape == (3, 96, 96) and mask.shape == (96, 96)
    assert set(mask.unique().tolist()) == {0, 1}
    shrunk = small_catalog.masks[0][1::7, 1::7].mean()  # a rough downsample of the full mask
    assert abs(mask.float().mean().item() - shrunk) < 0.05


def test_a_composite_is_made_on_the_scene_its_key_names(small_catalog, cache):
    """Distinct flat scenes: each composite's non-sneaker pixels have its named scene's colour."""
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    flat = [np.full((80, 80, 3), colour, np.uint8) for colour in colours]
    settings = compose.PasteSettings(scene_jitter=0.0, empty=1.0)  # scenes alone, unjittered
    dataset = data.CompositeDataset(data.catalog_cutouts(small_catalog, range(4)), flat, 12, 32, 0, settings)
    chosen = {dataset.scene_index(i) for i in range(12)}
    assert len(chosen) > 1
    for key in [*range(12), (5, 2)]:
        image, label, _ = dataset.composite(key)
        assert not label.any()
        assert np.abs(image.reshape(-1, 3).mean(0) - colours[dataset.scene_index(key)]).max() < 2


def test_mixed_training_takes_the_first_slots_of_every_step_from_the_first_set(small_catalog, cache):
    white = data.WhiteBackgroundDataset(small_catalog, range(12), augment=True)
    scenes_ = [np.full((64, 64, 3), 90, np.uint8)]
    composites = data.CompositeDataset(data.catalog_cutouts(small_catalog, range(12)), scenes_, 12, 64)
    mixed = data.MixedTraining(white, composites, slots_from_first=2)
    for step in (0, 5):
        for slot in range(4):
            expected = (white if slot < 2 else composites)[(step, slot)]
            assert all(torch.equal(a, b) for a, b in zip(mixed[(step, slot)], expected, strict=True))
    assert len(mixed) == len(composites)
