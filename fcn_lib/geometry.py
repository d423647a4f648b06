"""Where a score looks: the stride and the receptive field of each stage of the VGG-16 trunk.

Stride and receptive field are easy to confuse. After five 2×2 poolings the scores come on a grid
with one cell per 32×32 block of the input (stride 32), but each score is computed from a far larger
window: every 3×3 convolution widens it by two of its layer's steps, every pooling by one, and fc6's
7×7 kernel by six steps of 32 pixels. An fc7 score of VGG-16 sees about 400 pixels a side, more
than a 224-pixel photo, which is why FCN-32s knows *what* is in a photo while its outlines stay
coarse: the grid is coarse, the view is not.
"""

from __future__ import annotations

from torch import nn


def _grow(stride: int, field: int, kernel: int, step: int) -> tuple[int, int]:
    """A layer with ``kernel`` and ``step`` (its stride) applied on a map of ``stride``: the new
    stride, and the field grown by ``kernel - 1`` of the map's cells."""
    return stride * step, field + (kernel - 1) * stride


def _size(value) -> int:
    return value[0] if isinstance(value, tuple) else value


def receptive_fields(trunk: nn.Module) -> dict[str, tuple[int, int]]:
    """``{name: (stride, receptive field)}`` in input pixels, for ``pool1`` … ``pool5``, ``fc6`` and
    ``fc7`` of a :class:`fcn_lib.models.VGG16Trunk` (padding moves a window, it does not widen it)."""
    stride, field, found = 1, 1, {}
    for layer in trunk.features:
        if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            stride, field = _grow(stride, field, _size(layer.kernel_size), _size(layer.stride))
            if not isinstance(layer, nn.Conv2d):
                found[f"pool{len(found) + 1}"] = (stride, field)
    for name in ("fc6", "fc7"):
        layer = getattr(trunk, name)
        stride, field = _grow(stride, field, _size(layer.kernel_size), _size(layer.stride))
        found[name] = (stride, field)
    return found
