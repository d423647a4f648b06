"""Fully Convolutional Networks on a VGG-16 trunk: FCN-32s, FCN-16s and FCN-8s.

The trunk keeps torchvision's layer layout (``features.0`` ... ``features.30``), so torchvision's
ImageNet weights load into it unchanged; VGG-16's two fully connected layers become convolutions
(``fc6``: 7×7, ``fc7``: 1×1) whose weights are the fully connected weights reshaped. A 1×1 ``score``
convolution turns features into class scores at stride 32, and transposed convolutions initialised to
bilinear interpolation bring them back to the input's size. FCN-16s and FCN-8s add *skips*: scores
computed from ``pool4`` (stride 16) and ``pool3`` (stride 8) are added on the way up.

Two layouts:

``caffe``
    The reference implementation's: ``conv1_1`` padded by 100 pixels, ceil-mode pooling, an unpadded
    7×7 ``fc6``, and crops at the reference offsets (32s: 19; 16s: 5, 27; 8s: 5, 9, 31). Each network
    has its own upsampling, so FCN-16s made from FCN-32s gives a slightly different output at first.
``aligned`` (default)
    No 100-pixel padding (the input is padded to a multiple of 32 instead, then the output cropped), a
    padded ``fc6``, so every feature map is exactly 1/2, 1/4, ... of the input. All three networks share
    one upsampling chain (×2, ×2, ×8) with the skips added between its steps; a network without a skip
    simply adds nothing there. Turning FCN-32s into FCN-16s therefore changes the output by exactly zero.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from fcn_lib import backbone

LAYOUTS = ("aligned", "caffe")
NORMALISATIONS = ("none", "batch")
ARCHITECTURES = ("fcn32s", "fcn16s", "fcn8s")
_VGG16_BLOCKS = (2, 2, 3, 3, 3)  # convolutions per block
_VGG16_WIDTHS = (64, 128, 256, 512, 512)
# The reference's top-left crops: final crop per stride, and the pool4 / pool3 score crops.
_CAFFE_CROPS = {"final": {32: 19, 16: 27, 8: 31}, "pool4": 5, "pool3": 9}
def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """A class-diagonal transposed-convolution weight that performs bilinear upsampling.

    Channel ``c`` maps only to channel ``c``, with the separable "tent" filter whose transposed
    convolution at stride ``kernel_size // 2`` interpolates linearly between input samples.
    """
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    ramp = 1 - torch.abs(torch.arange(kernel_size, dtype=torch.float64) - centre) / factor
    tent = (ramp[:, None] * ramp[None, :]).float()
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = tent
    return weight


def bilinear_upsampling(channels: int, factor: int, padding: int = 0, learnable: bool = False
                        ) -> nn.ConvTranspose2d:
    """A transposed convolution that upsamples by ``factor``, initialised to bilinear interpolation
    (:func:`bilinear_kernel`) and, like the reference's, frozen unless ``learnable``."""
    layer = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=padding, bias=False)
    layer.weight.data.copy_(bilinear_kernel(channels, 2 * factor))
    layer.weight.requires_grad_(learnable)
    return layer


def _score(in_channels: int, classes: int) -> nn.Conv2d:
    """A 1×1 scoring layer, zero-initialised as in the reference: a new skip starts by adding nothing."""
    layer = nn.Conv2d(in_channels, classes, 1)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def as_matrix_product(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A stride-1 convolution computed as one matrix product over its input's patches, the way a fully
    connected layer is: the same sums in another order. Patches are taken in (row, column, channel)
    order, the order of a channels_last weight, so that weight is not copied."""
    (kernel_h, kernel_w), (pad_h, pad_w) = conv.kernel_size, conv.padding
    windows = F.pad(x, (pad_w, pad_w, pad_h, pad_h)).unfold(2, kernel_h, 1).unfold(3, kernel_w, 1)
    n, _, rows, columns = windows.shape[:4]  # then the kernel's rows and columns
    patches = windows.permute(0, 2, 3, 4, 5, 1).reshape(n * rows * columns, -1)
    weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)
    product = F.linear(patches, weight, conv.bias)  # one row per output pixel
    return product.view(n, rows, columns, -1).permute(0, 3, 1, 2)  # channels_last, as a convolution's


class FullyConnectedConv(nn.Conv2d):
    """fc6: VGG-16's first fully connected layer as a 7×7 convolution. On the CPU it runs as one matrix
    product over the unfolded patches, because oneDNN is slow at a 7×7 kernel over a map hardly larger
    than it: at the cpu profile's 4×4 map the product is 5 times faster (``python -m benchmarks
    layers --device cpu --size 128 --batch 8 --width 0.125 --amp fp32``). On a GPU cuDNN convolves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) if x.is_cuda else as_matrix_product(x, self)


class VGG16Trunk(nn.Module):
    """VGG-16's 13 convolutions and 5 pools (torchvision's indices), then fc6 and fc7 as convolutions.

    ``width`` scales every channel count (1.0 is VGG-16); the structure stays the same.
    ``normalisation="batch"``: batch normalisation before every ReLU, as in ``vgg16_bn`` (a random start).
    """

    def __init__(self, layout: str = "aligned", width: float = 1.0, dropout: float = 0.5,
                 normalisation: str = "none"):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        self.layout, self.width, self.normalisation = layout, width, normalisation
        self.channels = [max(1, round(c * width)) for c in _VGG16_WIDTHS]
        self.fc_channels = max(1, round(4096 * width))
        layers: list[nn.Module] = []
        previous = 3
        for block, (count, channels) in enumerate(zip(_VGG16_BLOCKS, self.channels, strict=True)):
            for k in range(count):
                padding = 100 if layout == "caffe" and block == 0 and k == 0 else 1
                norm = [nn.BatchNorm2d(channels)] if normalisation == "batch" else []
                layers += [nn.Conv2d(previous, channels, 3, padding=padding), *norm, nn.ReLU(inplace=True)]
                previous = channels
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=layout == "caffe"))
        self.features = nn.Sequential(*layers)
        self.pool_indices = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
        self.fc6 = FullyConnectedConv(previous, self.fc_channels, 7, padding=0 if layout == "caffe" else 3)
        self.fc7 = nn.Conv2d(self.fc_channels, self.fc_channels, 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._init_random()

    def _init_random(self) -> None:
        """torchvision's VGG initialisation, for training from scratch (``backbone_weights="none"``)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(pool3, pool4, fc7)`` features at strides 8, 16 and 32."""
        pool3_at, pool4_at = self.pool_indices[2], self.pool_indices[3]
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index == pool3_at:
                pool3 = x
            elif index == pool4_at:
                pool4 = x
        x = self.dropout(F.relu(self.fc6(x), inplace=True))
        x = self.dropout(F.relu(self.fc7(x), inplace=True))
        return pool3, pool4, x

    def load_vgg16(self, state: dict[str, torch.Tensor]) -> None:
        """Load a torchvision VGG-16 state dict: features as they are, classifier.0/.3 reshaped into
        fc6/fc7 (a fully connected layer over a 7×7 map is a 7×7 convolution)."""
        if self.normalisation != "none":
            raise ValueError(f"VGG-16's weights have no normalisation layers; this trunk has "
                             f"{self.normalisation} normalisation (set normalisation: none to load them)")
        expected = (self.fc_channels, self.channels[-1] * 49)
        found = tuple(state["classifier.0.weight"].shape) if "classifier.0.weight" in state else None
        if found != expected:
            raise ValueError(f"these VGG-16 weights have fc6 of shape {found}; this trunk "
                             f"(width {self.width}) needs {expected}: ImageNet weights only fit width 1.0")
        features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        self.features.load_state_dict(features)
        self.fc6.weight.data.copy_(state["classifier.0.weight"].view_as(self.fc6.weight))
        self.fc6.bias.data.copy_(state["classifier.0.bias"])
        self.fc7.weight.data.copy_(state["classifier.3.weight"].view_as(self.fc7.weight))
        self.fc7.bias.data.copy_(state["classifier.3.bias"])


class FCN(nn.Module):
    """An FCN of output stride 32, 16 or 8. Use :class:`FCN32s`, :class:`FCN16s`, :class:`FCN8s`."""

    stride: int = 32
    arch: str = "fcn32s"

    def __init__(self, num_classes: int = 2, layout: str = "aligned", width: float = 1.0,
                 backbone_weights: str | os.PathLike = "none", learnable_upsampling: bool = False,
                 dropout: float = 0.5, normalisation: str = "none"):
        super().__init__()
        self.num_classes, self.layout, self.learnable_upsampling = num_classes, layout, learnable_upsampling
        self.trunk = VGG16Trunk(layout, width, dropout, normalisation)
        state = backbone.vgg16_state(backbone_weights)
        if state is not None:
            self.trunk.load_vgg16(state)
        self.score_fr = _score(self.trunk.fc_channels, num_classes)
        if self.stride <= 16:
            self.score_pool4 = _score(self.trunk.channels[3], num_classes)
        if self.stride <= 8:
            self.score_pool3 = _score(self.trunk.channels[2], num_classes)
        def up(factor: int, padding: int = 0) -> nn.ConvTranspose2d:
            return bilinear_upsampling(num_classes, factor, padding, learnable_upsampling)

        if layout == "aligned":  # one chain for every stride: x2, (+pool4), x2, (+pool3), x8
            self.up_pool4, self.up_pool3, self.up_final = up(2, 1), up(2, 1), up(8, 4)
        elif self.stride == 32:
            self.upscore = up(32)
        else:
            self.upscore2 = up(2)
            if self.stride == 16:
                self.upscore16 = up(16)
            else:
                self.upscore_pool4, self.upscore8 = up(2), up(8)

    def describe(self) -> dict:
        """What a checkpoint records to rebuild this network."""
        return {"arch": self.arch, "num_classes": self.num_classes, "layout": self.layout,
                "width": self.trunk.width, "learnable_upsampling": self.learnable_upsampling,
                "normalisation": self.trunk.normalisation}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) of exactly the input's height and width."""
        height, width = x.shape[-2:]
        if self.layout == "aligned":
            return self._forward_aligned(x)[..., :height, :width]
        return self._forward_caffe(x, height, width)

    def _forward_aligned(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % 32, 0, -height % 32))  # zeros: the mean colour after normalisation
        pool3, pool4, top = self.trunk(x)
        score = self.up_pool4(self.score_fr(top))
        if self.stride <= 16:
            score = score + self.score_pool4(pool4)
        score = self.up_pool3(score)
        if self.stride <= 8:
            score = score + self.score_pool3(pool3)
        return self.up_final(score)

    def _forward_caffe(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        pool3, pool4, top = self.trunk(x)
        score = self.score_fr(top)
        if self.stride == 32:
            return _crop(self.upscore(score), _CAFFE_CROPS["final"][32], height, width)
        score = self.upscore2(score)
        score = score + _crop(self.score_pool4(pool4), _CAFFE_CROPS["pool4"], *score.shape[-2:])
        if self.stride == 16:
            return _crop(self.upscore16(score), _CAFFE_CROPS["final"][16], height, width)
        score = self.upscore_pool4(score)
        score = score + _crop(self.score_pool3(pool3), _CAFFE_CROPS["pool3"], *score.shape[-2:])
        return _crop(self.upscore8(score), _CAFFE_CROPS["final"][8], height, width)


def _crop(tensor: torch.Tensor, offset: int, height: int, width: int) -> torch.Tensor:
    """The reference's Crop layer: a view of ``height × width`` from ``offset`` down and right."""
    return tensor[..., offset:offset + height, offset:offset + width]


class FCN32s(FCN):
    stride, arch = 32, "fcn32s"


class FCN16s(FCN):
    stride, arch = 16, "fcn16s"

    @classmethod
    def from_fcn32s(cls, source: FCN32s, **overrides) -> FCN16s:
        """FCN-16s initialised from a trained FCN-32s; the new pool4 skip starts at zero."""
        return _grow(cls, source, FCN32s, overrides)


class FCN8s(FCN):
    stride, arch = 8, "fcn8s"

    @classmethod
    def from_fcn16s(cls, source: FCN16s, **overrides) -> FCN8s:
        """FCN-8s initialised from a trained FCN-16s; the new pool3 skip starts at zero."""
        return _grow(cls, source, FCN16s, overrides)


def _grow(cls, source: FCN, expected: type, overrides: dict) -> FCN:
    if not isinstance(source, expected):
        raise TypeError(f"{cls.__name__} grows from {expected.__name__}, got {type(source).__name__}")
    settings = {k: v for k, v in source.describe().items() if k != "arch"}
    target = cls(**{**settings, **overrides})
    copy_shared_weights(source, target)
    return target


def copy_shared_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every parameter and buffer the two networks share by name and shape; returns the names."""
    source_state = source.state_dict()
    target_state = target.state_dict()
    shared = [k for k, v in target_state.items() if k in source_state and source_state[k].shape == v.shape]
    target.load_state_dict({**target_state, **{k: source_state[k] for k in shared}})
    return shared


MODELS = {"fcn32s": FCN32s, "fcn16s": FCN16s, "fcn8s": FCN8s}


def build(arch: str, **settings) -> FCN:
    """A network by name (``fcn32s``, ``fcn16s``, ``fcn8s``)."""
    if arch not in MODELS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    return MODELS[arch](**settings)


def parameter_count(model: nn.Module) -> int:
    """All parameters, frozen upsampling weights included (as the reference counts them)."""
    return sum(p.numel() for p in model.parameters())
