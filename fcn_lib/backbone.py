"""Where the VGG-16 trunk's starting weights come from: torchvision's ImageNet weights, a file, or none.

The original work starts from VGG-16 trained on ImageNet. Those weights are 528 MB and need the
internet once, so only the ``full`` profile uses them; the CPU profiles train a narrow trunk from a
random start. Nothing here downloads at import or in a default run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

IMAGENET_HINT = (
    "torchvision's ImageNet VGG-16 weights are not in the torch hub cache ({cache}) and cannot be "
    "downloaded here. On a machine with internet run\n"
    "    python -c \"import torchvision; torchvision.models.vgg16(weights='IMAGENET1K_V1')\"\n"
    "and copy {file} into {cache} on this machine, or pass the file's path as backbone_weights."
)


def imagenet_vgg16_state() -> dict[str, torch.Tensor]:
    """torchvision's ``VGG16_Weights.IMAGENET1K_V1`` from the torch hub cache, downloading if allowed."""
    from torchvision.models import VGG16_Weights

    weights = VGG16_Weights.IMAGENET1K_V1
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        return weights.get_state_dict(progress=True)
    except Exception as error:  # no network, a proxy, a truncated download: say how to fix it
        hint = IMAGENET_HINT.format(cache=cache, file=weights.url.rsplit("/", 1)[1])
        raise FileNotFoundError(f"{hint}\n(the download failed with: {error})") from None


def vgg16_state(backbone_weights: str | os.PathLike) -> dict[str, torch.Tensor] | None:
    """A torchvision-layout VGG-16 state dict: ``"imagenet"``, torchvision's weights; a path, a state
    dict saved with ``torch.save``; ``"none"``: None, the trunk keeps its random initialisation."""
    if backbone_weights == "none":
        return None
    if backbone_weights == "imagenet":
        return imagenet_vgg16_state()
    path = Path(backbone_weights)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights {path} do not exist (use 'imagenet', 'none' or a path)")
    return torch.load(path, map_location="cpu", weights_only=True)
