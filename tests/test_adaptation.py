import numpy as np
import pytest
import torch

from fcn_lib import adaptation, checkpoints, config, inference, models


def _normalised_network(seed=0):
    """A small FCN-8s with batch normalisation whose running statistics are those of dark, flat
    images: photos (random pixels here) are then far from its training statistics."""
    torch.manual_seed(seed)
    model = models.FCN8s(width=1 / 32, dropout=0.0, normalisation="batch")
    for name, parameter in model.named_parameters():
        if name.startswith("score"):
            parameter.data.normal_(0, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 32, 32) * 0.2 - 1.5)
    return model.eval()


def _images(count=3, seed=0):
    return torch.randn(count, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def _answer(model, images, share, mirror=False):
    with torch.no_grad(), adaptation.blended_statistics(model, images, share, mirror):
        return model(images)


def _hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def test_share_zero_or_no_normalisation_changes_nothing_and_no_hook_outlives_the_block():
    model, images = _normalised_network(), _images()
    with torch.no_grad():
        plain = model(images)
    assert torch.equal(_answer(model, images, 0.0), plain)
    assert not torch.allclose(_answer(model, images, 0.5), plain, atol=1e-3)
    assert _hooks(model) == 0
    with pytest.raises(RuntimeError), adaptation.blended_statistics(model, images, 0.5):
        raise RuntimeError("a failure inside the block")
    assert _hooks(model) == 0
    bare = models.FCN8s(width=1 / 32, dropout=0.0).eval()
    with torch.no_grad():
        assert torch.equal(_answer(bare, images, 1.0), bare(images))


def test_with_the_whole_share_the_training_statistics_no_longer_matter():
    model, images = _normalised_network(), _images()
    adapted = _answer(model, images, 1.0)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.normal_()
            layer.running_var.uniform_(0.5, 2.0)
    assert torch.allclose(_answer(model, images, 1.0), adapted, atol=1e-4)
    assert not torch.allclose(_answer(model, images, 0.5), _answer(_normalised_network(), images, 0.5),
                              atol=1e-3)


def test_each_image_is_normalised_by_its_own_statistics_whatever_it_is_batched_with():
    model, images = _normalised_network(), _images(3)
    together = _answer(model, images, 0.5, mirror=True)
    for i in range(3):
        alone = _answer(model, images[i:i + 1], 0.5, mirror=True)
        assert torch.allclose(together[i:i + 1], alone, atol=1e-4)


def test_a_photo_and_its_mirror_image_are_measured_alike_when_mirroring():
    model, images = _normalised_network(), _images(2)
    measured = adaptation.measure_photo_statistics(model, images, mirror=True)
    mirrored = adaptation.measure_photo_statistics(model, images.flip(-1), mirror=True)
    assert len(measured) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    for layer, (mean, variance) in measured.items():
        assert torch.allclose(mean, mirrored[layer][0], atol=1e-5)
        assert torch.allclose(variance, mirrored[layer][1], atol=1e-5)
    first = next(iter(measured))  # the first layer's pooled statistics: those of both images together
    with torch.no_grad():
        both = model.trunk.features[0](torch.cat([images[:1], images[:1].flip(-1)]))
    assert torch.allclose(measured[first][0][0].flatten(), both.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(measured[first][1][0].flatten(), both.var((0, 2, 3), unbiased=False), atol=1e-4)


def test_mirror_averaged_masks_stay_mirror_symmetric_with_photo_statistics():
    model, pixels = _normalised_network(), torch.randint(0, 256, (1, 3, 32, 32))
    straight = inference.log_probabilities(model, pixels, mirror=True, photo_statistics=0.5)
    flipped = inference.log_probabilities(model, pixels.flip(-1), mirror=True, photo_statistics=0.5)
    assert torch.allclose(flipped, straight.flip(-1), atol=1e-4)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="photo_statistics"), \
            adaptation.blended_statistics(_normalised_network(), _images(), share):
        pass


def _saved(path, model, profile):
    checkpoints.save_checkpoint(path, {"format": checkpoints.CHECKPOINT_FORMAT, "stage": "fcn8s_background",
                                       "model": model.describe(), "state_dict": model.state_dict(),
                                       "profile": profile})
    return path


def test_segmenter_takes_the_share_from_the_checkpoints_profile_unless_told(tmp_path):
    model = _normalised_network()
    profile = {**config.load_profile("cpu").to_dict(), "image_size": 32}
    recorded = _saved(tmp_path / "new.pt", model, profile)
    older = _saved(tmp_path / "old.pt", model, {"image_size": 32, "normalisation": "batch"})
    share = inference.Segmenter.from_checkpoint(recorded, "cpu").photo_statistics
    assert share == profile["photo_statistics"] > 0
    assert inference.Segmenter.from_checkpoint(recorded, "cpu", photo_statistics=0.0).photo_statistics == 0.0
    assert inference.Segmenter.from_checkpoint(older, "cpu").photo_statistics == 0.0
    photo = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    adapted = inference.Segmenter.from_checkpoint(recorded, "cpu").masks([photo])[0]
    by_training = inference.Segmenter.from_checkpoint(recorded, "cpu", photo_statistics=0.0).masks([photo])[0]
    assert adapted.shape == by_training.shape == (40, 30) and not np.array_equal(adapted, by_training)
