"""Random convolutions: training images seen through a random filter, so that texture and colour
stop being reliable and shape is what is left to learn.

The rendered catalogue cannot match real photographs in every local statistic (how sharp an edge is,
how much a panel's texture varies, which colours sit side by side), and a network trained on it
learns to rely on whichever of them separates sneaker from scene in the renders. Passing a share of
the training images through a convolution with random weights changes exactly those statistics —
local texture and colour — while keeping every object's outline where it was, so the mask still
fits (Xu et al., "Robust and generalizable visual representation learning via random
convolutions", ICLR 2021). Each chosen image gets its own kernel, of size 1 (a random colour mix)
to 7 pixels (a random texture filter); the result is scaled back to the image's own mean and
spread, then blended with the original by a random amount, so the network sees everything from
the untouched photo to a wholly filtered one.

The draws come from a generator the caller seeds (the training loop keys it on the step), so a
resumed run sees the same images as one that never stopped.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

KERNEL_SIZES = (1, 3, 5, 7)
_STREAM = 11  # keeps these draws apart from the other generators keyed on the seed and step


def random_convolution(images: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """A copy of the batch ``images`` (N×C×H×W, normalised) in which about ``share`` of the images went
    through a random convolution, blended with the original by a random weight.

    Every image keeps its mean exactly; masks are untouched because outlines do not move (the
    convolution is centred and padded to the same size). All random numbers are drawn on the CPU
    from ``generator`` in a fixed order, so the result is the same on every device.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share!r}")
    count, channels, height, width = images.shape
    chosen = torch.rand(count, generator=generator) < share
    sizes = torch.tensor(KERNEL_SIZES)[torch.randint(len(KERNEL_SIZES), (count,), generator=generator)]
    kept = torch.rand(count, generator=generator)  # how much of the original each image keeps
    out = images.clone()
    for size in KERNEL_SIZES:
        index = torch.nonzero(chosen & (sizes == size)).flatten()
        if len(index) == 0:
            continue
        # A Kaiming-like scale keeps the filtered values in range before they are rescaled below.
        weights = torch.randn(len(index) * channels, channels, size, size, generator=generator)
        weights = (weights / math.sqrt(channels * size * size)).to(images.device, images.dtype)
        originals = images[index.to(images.device)]
        # One grouped convolution filters every chosen image with its own kernel.
        filtered = F.conv2d(originals.reshape(1, -1, height, width), weights, padding=size // 2,
                            groups=len(index)).reshape(originals.shape)
        filtered = _matched(filtered, originals)
        weight = kept[index].to(images.device, images.dtype).view(-1, 1, 1, 1)
        out[index.to(images.device)] = weight * originals + (1 - weight) * filtered
    return out


def _matched(filtered: torch.Tensor, originals: torch.Tensor) -> torch.Tensor:
    """``filtered`` scaled and shifted, image by image, to the mean and spread of ``originals``."""
    dims = (1, 2, 3)
    mean, spread = originals.mean(dims, keepdim=True), originals.std(dims, keepdim=True)
    centred = filtered - filtered.mean(dims, keepdim=True)
    return centred / (centred.std(dims, keepdim=True) + 1e-5) * spread + mean


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The generator of one training step's random convolutions (one stream per process)."""
    state = np.random.SeedSequence([seed, _STREAM, step, rank]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))
