"""Where a score looks: the stride and the receptive field of each stage of the VGG-16 trunk.

Stride and receptive field are easy to confuse. After five 2×2 poolings the scores come on a grid
with one cell per 32×32 block of the input (stride 32), but each score is computed from a far larger
window: every 3×3 convolution widens it by two of its layer's steps, every pooling by one, and fc6's
7×7 kernel by six steps of 32 pixels. An fc7 score of VGG-16 sees about 400 pixels a side, more
than a 224-pixel photo, which is why FCN-32s knows *what* is in a photo while its outlines stay
coarse: the grid is coarse, the view is not.

Where a cell *is* is a third number. Cell ``j`` of a map is centred on input pixel ``step * j + offset``;
padding shifts the offset, and upsampling by a transposed convolution shifts it again. The reference's
crops (19 for FCN-32s; 5 and 27 for FCN-16s; 5, 9 and 31 for FCN-8s) are the offsets that put a
map's cells back over the input pixels, or over another map's cells, that they belong to. In the
aligned layout every such offset is zero, which is why it needs no crops.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn


def _grow(stride: int, field: int, kernel: int, step: int) -> tuple[int, int]:
    """A layer with ``kernel`` and ``step`` (its stride) applied on a map of ``stride``: the new
    stride, and the field grown by ``kernel - 1`` of the map's cells."""
    return stride * step, field + (kernel - 1) * stride


def _size(value) -> int:
    return value[0] if isinstance(value, tuple) else value


def _moved(centre: tuple[float, float], kernel: int, step: int, pad: int) -> tuple[float, float]:
    """A convolution or pooling over a map whose cell ``j`` sits at ``stride * j + offset``: output cell
    ``j`` is the centre of input cells ``step * j - pad`` to ``step * j - pad + kernel - 1``."""
    stride, offset = centre
    return stride * step, offset + stride * (-pad + (kernel - 1) / 2)


def _windowed_layers(trunk: nn.Module) -> Iterator[tuple[str | None, int, int, int]]:
    """``(name, kernel, stride, padding)`` of every layer of a :class:`fcn_lib.models.VGG16Trunk` that
    moves or widens a window, in order; ``name`` is ``pool1`` … ``pool5``, ``fc6`` or ``fc7``, and None
    for the convolutions between the poolings."""
    pools = 0
    for layer in trunk.features:
        if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            name = None
            if not isinstance(layer, nn.Conv2d):
                pools += 1
                name = f"pool{pools}"
            yield name, _size(layer.kernel_size), _size(layer.stride), _size(layer.padding)
    for name in ("fc6", "fc7"):
        layer = getattr(trunk, name)
        yield name, _size(layer.kernel_size), _size(layer.stride), _size(layer.padding)


def centres(trunk: nn.Module) -> dict[str, tuple[float, float]]:
    """``{name: (stride, offset)}``: cell ``j`` of ``pool1`` … ``pool5``, ``fc6`` and ``fc7`` is centred
    on input pixel ``stride * j + offset`` (pixel ``i`` spans ``i - 0.5`` to ``i + 0.5``)."""
    centre, found = (1.0, 0.0), {}
    for name, kernel, step, pad in _windowed_layers(trunk):
        centre = _moved(centre, kernel, step, pad)
        if name:
            found[name] = centre
    return found


def upsampled(centre: tuple[float, float], layer: nn.ConvTranspose2d) -> tuple[float, float]:
    """Where the cells of a transposed convolution's output sit: input cell ``j`` is spread over output
    cells ``step * j - pad`` to ``step * j - pad + kernel - 1``, so output cell ``o`` is centred over
    input cell ``(o + pad - (kernel - 1) / 2) / step``."""
    stride, offset = centre
    kernel, step, pad = _size(layer.kernel_size), _size(layer.stride), _size(layer.padding)
    return stride / step, offset + stride * (pad - (kernel - 1) / 2) / step


def crop(source: tuple[float, float], target: tuple[float, float]) -> int:
    """How many leading cells of ``source`` to drop so that its cells lie over ``target``'s."""
    if source[0] != target[0]:
        raise ValueError(f"maps of strides {source[0]} and {target[0]} cannot be aligned by a crop")
    cells = (target[1] - source[1]) / source[0]
    if cells != int(cells) or cells < 0:
        raise ValueError(f"no whole crop aligns offset {source[1]} with {target[1]}: {cells} cells")
    return int(cells)


def crops(model: nn.Module) -> dict[str, int]:
    """The crops a :class:`fcn_lib.models.FCN` needs, derived from its layers: ``pool4`` and ``pool3``
    (the skip's scores against the upsampled coarser scores) and ``final`` (the output against the
    input). The same arithmetic as the reference's ``coord_map``."""
    if model.layout == "aligned":  # one chain for every stride: x2, (+pool4), x2, (+pool3), x8
        steps = [("up_pool4", "pool4" if model.stride <= 16 else None),
                 ("up_pool3", "pool3" if model.stride <= 8 else None), ("up_final", "final")]
    else:
        steps = {32: [("upscore", "final")], 16: [("upscore2", "pool4"), ("upscore16", "final")],
                 8: [("upscore2", "pool4"), ("upscore_pool4", "pool3"), ("upscore8", "final")]}[model.stride]
    found = centres(model.trunk)
    centre, at = found["fc7"], {}
    for layer, joins in steps:
        centre = upsampled(centre, getattr(model, layer))
        if joins == "final":
            at[joins] = crop(centre, (1.0, 0.0))
        elif joins is not None:
            at[joins] = crop(found[joins], centre)
    return at


def receptive_fields(trunk: nn.Module) -> dict[str, tuple[int, int]]:
    """``{name: (stride, receptive field)}`` in input pixels, for ``pool1`` … ``pool5``, ``fc6`` and
    ``fc7`` of a :class:`fcn_lib.models.VGG16Trunk` (padding moves a window, it does not widen it)."""
    stride, field, found = 1, 1, {}
    for name, kernel, step, _ in _windowed_layers(trunk):
        stride, field = _grow(stride, field, kernel, step)
        if name:
            found[name] = (stride, field)
    return found
