import pytest
import torch

from fcn_lib.random_convolution import random_convolution, step_generator


def _batch(count=6, size=24):
    return torch.Generator().manual_seed(1), torch.randn(count, 3, size, size,
                                                         generator=torch.Generator().manual_seed(2))


def test_a_share_of_zero_leaves_every_image_as_it_was():
    generator, images = _batch()
    out = random_convolution(images, 0.0, generator)
    assert torch.equal(out, images) and out is not images


def test_every_chosen_image_changes_but_keeps_its_mean_shape_and_memory_format():
    _, images = _batch()
    images = images.contiguous(memory_format=torch.channels_last)
    out = random_convolution(images, 1.0, step_generator(0, 3))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    changed = (out - images).flatten(1).abs().amax(1)
    assert (changed > 1e-3).all()
    assert torch.allclose(out.mean((1, 2, 3)), images.mean((1, 2, 3)), atol=1e-5)


def test_the_draws_are_a_function_of_seed_step_and_rank():
    _, images = _batch()
    first = random_convolution(images, 0.5, step_generator(0, 7))
    assert torch.equal(first, random_convolution(images, 0.5, step_generator(0, 7)))
    for other in (step_generator(0, 8), step_generator(1, 7), step_generator(0, 7, rank=1)):
        assert not torch.equal(first, random_convolution(images, 0.5, other))


def test_about_the_share_asked_for_is_changed():
    _, images = _batch(count=400, size=8)
    out = random_convolution(images, 0.3, step_generator(0, 0))
    changed = ((out - images).flatten(1).abs().amax(1) > 0).float().mean()
    assert 0.22 < changed < 0.38


def test_outlines_stay_where_they_were():
    """Two flat regions stay two flat regions: a filter of at most 7 px changes only what lies within
    3 px of an edge, so the mask still fits the filtered image."""
    images = torch.zeros(8, 3, 32, 32)
    images[:, :, :, 16:] = torch.tensor([1.0, -0.5, 0.25]).view(1, 3, 1, 1)
    out = random_convolution(images, 1.0, step_generator(0, 1))
    for columns in (slice(4, 13), slice(20, 29)):
        inside = out[:, :, 4:29, columns]
        assert inside.flatten(2).std(2).max() < 1e-5  # each region is still one colour
    assert (out[:, :, 16, 4] - out[:, :, 16, 28]).abs().amax(1).min() > 1e-3  # and the two still differ


def test_an_image_without_texture_is_left_without_texture():
    images = torch.full((3, 3, 16, 16), 0.7)
    assert torch.allclose(random_convolution(images, 1.0, step_generator(0, 0)), images)


def test_a_share_outside_zero_to_one_is_refused():
    generator, images = _batch()
    with pytest.raises(ValueError, match="share"):
        random_convolution(images, 1.5, generator)
