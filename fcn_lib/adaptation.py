"""Batch normalisation partly by the statistics of the photo being segmented.

A batch normalisation layer normalises by the mean and variance it saw in training. A network trained
on rendered sneakers meets photographs at run time, whose features have other statistics, so every
layer normalises them a little wrongly and the error grows layer by layer. Blending each layer's
training statistics with those of the photo itself (over its pixels, one photo at a time) moves the
normalisation towards the photo. This is the unsupervised adaptation to a shifted input distribution
of Schneider et al. (2020, "Improving robustness against common corruptions by covariate shift
adaptation"): it needs no labels and no training, only the photo.

It helps only where training and use differ. On the developers' real photos it raised real sneakers on
real scenes for the network trained on the rendered catalogue and lowered them for the one trained on
real shots, whose training statistics already describe photographs (book/tuning.md, twelfth round).
So the share is a setting of the recipe (``photo_statistics``), recorded in its checkpoints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def _instance_statistics(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's own mean and variance per channel, over its height and width (N×C×1×1)."""
    x = x.float()
    return x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)


def _normalise(layer: torch.nn.BatchNorm2d, x: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor
               ) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    normalised = (x.float() - mean) * torch.rsqrt(variance + layer.eps)
    return (normalised * layer.weight.view(shape) + layer.bias.view(shape)).to(x.dtype)


def _pooled(statistics: tuple[torch.Tensor, torch.Tensor], photos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Statistics of photos and their mirror images (the first ``photos`` rows, then the mirrored
    ones) pooled per photo: the mean of the two means, and the variance of the two together."""
    mean, variance = statistics
    means, variances = mean.split(photos), variance.split(photos)
    pooled_mean = (means[0] + means[1]) / 2
    spread = ((means[0] - means[1]) / 2) ** 2
    return pooled_mean, (variances[0] + variances[1]) / 2 + spread


def checked_share(share: float) -> float:
    """The share of a photo's own statistics, refused outside 0..1 before any photo is read."""
    if not 0 <= share <= 1:
        raise ValueError(f"photo_statistics is a share between 0 and 1, got {share!r}")
    return share


@contextlib.contextmanager
def _hooked(layers, hook) -> Iterator[None]:
    """``hook`` replaces the output of every layer in ``layers`` within the block, and only there."""
    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def measure_photo_statistics(model: torch.nn.Module, images: torch.Tensor, mirror: bool = False
                             ) -> dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """Every BatchNorm2d's input statistics for each image (normalised ImageNet-style, N×3×H×W), in a
    pass where every layer normalises each image by its own statistics alone. Measuring them so, rather
    than under the blend itself, keeps a deep layer's statistics from depending on how far the layers
    before it were adapted. With ``mirror`` each photo's statistics are those of it and its mirror image
    together, so that a mirrored photo gets the same statistics and, mirror-averaged, the mirrored mask."""
    measured: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
    photos = len(images)

    def hook(layer, inputs, _):
        own = _instance_statistics(inputs[0])
        measured[layer] = _pooled(own, photos) if mirror else own
        return _normalise(layer, inputs[0], *(t.repeat(2, 1, 1, 1) if mirror else t for t in measured[layer]))

    layers = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with _hooked(layers, hook), torch.no_grad():
        model(torch.cat([images, images.flip(-1)]) if mirror else images)
    return measured


@contextlib.contextmanager
def blended_statistics(model: torch.nn.Module, images: torch.Tensor, share: float, mirror: bool = False
                       ) -> Iterator[None]:
    """Within the block, every BatchNorm2d of an evaluating ``model`` normalises image *i* of a batch
    by ``(1 - share)`` times its training statistics plus ``share`` times the statistics measured on
    ``images[i]`` (and its mirror image, with ``mirror``: :func:`measure_photo_statistics`). A batch
    of the same images mirrored gets the same statistics. Each image is normalised by its own, so a
    photo's mask does not depend on the photos batched with it. ``share`` 0 changes nothing, and a
    network without batch normalisation is left as it is."""
    measured = measure_photo_statistics(model, images, mirror) if checked_share(share) else {}

    def hook(layer, inputs, _):
        mean, variance = measured[layer]
        shape = (1, -1, 1, 1)
        return _normalise(layer, inputs[0],
                          (1 - share) * layer.running_mean.view(shape) + share * mean,
                          (1 - share) * layer.running_var.view(shape) + share * variance)

    with _hooked(measured, hook):
        yield
