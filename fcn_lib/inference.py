"""Using a trained network: the one path from pixels to class scores, and everything built on it.

:func:`log_probabilities` is the only place a network is asked for an answer outside training: it
switches the network to evaluation mode, normalises the pixels on the network's device, runs it under
the requested precision and, with ``mirror``, averages the answer with that for the mirror image;
``photo_statistics`` blends batch normalisation's statistics with each photo's own
(:mod:`fcn_lib.adaptation`).
Validation during training (:func:`evaluate`), the notebooks' masks (:func:`predict`,
:func:`predict_dataset`) and the ``segment`` and ``evaluate`` commands (:class:`Segmenter`) all go
through it, so they cannot disagree about what the network says.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from fcn_lib import data, distributed
from fcn_lib.acceleration import autocast, resolve_amp, resolve_device
from fcn_lib.adaptation import blended_statistics, checked_share
from fcn_lib.checkpoints import load_checkpoint, model_from_checkpoint
from fcn_lib.metrics import SplitScores

# The padding colour of photos fitted into a square: ImageNet's mean, which normalises to zero.
MEAN_PIXEL = tuple(255.0 * m for m in data.IMAGENET_MEAN)


@torch.no_grad()
def log_probabilities(model: torch.nn.Module, pixels: torch.Tensor, amp: str = "fp32", mirror: bool = False,
                      photo_statistics: float = 0.0) -> torch.Tensor:
    """Per-pixel log class probabilities (float32, N×C×H×W, on the model's device) for a batch of
    pixels (N×3×H×W, 0..255, uint8 or float, on any device).

    ``mirror``: the probabilities are averaged over the image and its mirror image, whose scores are
    mirrored back. A mirrored sneaker is still a sneaker, so the network gets two looks at every photo,
    and their average errs less than either: on the cpu profile's validation composites the sneaker IoU
    rose by 0.01 to 0.02, for twice the work. The average is taken in log space, where it cannot
    underflow.

    ``photo_statistics``: the share of every batch normalisation layer's statistics taken from each
    photo itself rather than from training (0: training's alone).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    images = data.normalise(pixels.to(device, non_blocking=True))
    with autocast(device, amp), blended_statistics(model, images, photo_statistics, mirror):
        logits = model(images)
        mirrored = model(images.flip(-1)) if mirror else None
    model.train(was_training)
    scores = logits.float().log_softmax(1)
    if mirror:
        scores = torch.logaddexp(scores, mirrored.float().log_softmax(1).flip(-1)) - math.log(2)
    return scores


def predict(model: torch.nn.Module, pixels: torch.Tensor, amp: str = "fp32", mirror: bool = False
            ) -> torch.Tensor:
    """Sneaker masks (bool, N×H×W, on the CPU) for a batch of pixels."""
    return log_probabilities(model, pixels, amp, mirror).argmax(1).bool().cpu()


def predict_dataset(model: torch.nn.Module, dataset, batch_size: int = 32, amp: str = "fp32",
                    mirror: bool = False) -> np.ndarray:
    """Masks (bool, N×H×W) for every fixed item of a dataset, in order."""
    masks = [predict(model, pixels, amp, mirror) for pixels, _ in data.evaluation_loader(dataset, batch_size)]
    return torch.cat(masks).numpy()


def evaluate(model: torch.nn.Module, batches, amp: str = "fp32", world: distributed.World = distributed.ALONE,
             mirror: bool = False) -> dict[str, float]:
    """Mean per-pixel loss, the confusion-matrix scores and the boundary F-score over a loader or list
    of ``(pixels, masks)`` batches (under ``torchrun``: over every process's shard of it, summed), all
    computed on the model's device. With ``mirror`` both the masks and the loss are the mirror-averaged
    prediction's."""
    device = next(model.parameters()).device
    scores = SplitScores()
    loss, pixel_count = torch.zeros((), dtype=torch.float64, device=device), 0
    for pixels, masks in batches:
        masks = masks.to(device, non_blocking=True).long()
        answer = log_probabilities(model, pixels, amp, mirror)
        loss += F.nll_loss(answer, masks, reduction="sum")
        pixel_count += masks.numel()
        scores.add_batch(answer.argmax(1).bool(), masks.bool())
    if world.active:
        counts = torch.cat([scores.matrix.flatten(), torch.from_numpy(scores.outline),
                            torch.tensor([scores.images, pixel_count])]).to(device)
        world.sum(counts)
        world.sum(loss)
        counts = counts.cpu()
        scores.matrix, scores.outline = counts[:4].view(2, 2), counts[4:8].numpy()
        scores.images, pixel_count = int(counts[8]), int(counts[9])
    return {"loss": float(loss) / max(pixel_count, 1), **scores.result()}


class Segmenter:
    """A trained FCN ready for photos of any size: ``masks(photos)`` gives one boolean mask per photo.

    A network is trained at one resolution (the profile's ``image_size``) and sneakers at that scale
    are what it knows. So every photo is scaled until its longer side is that size, padded to a square
    with the mean colour so that photos of different shapes share a batch, and the scores are cropped
    and upsampled back to the photo's own size before the per-pixel decision.
    """

    def __init__(self, model: torch.nn.Module, size: int, device: torch.device, amp: str = "fp32",
                 mirror: bool = True, profile: dict | None = None, photo_statistics: float = 0.0):
        self.model, self.size, self.device = model.to(device).eval(), size, device
        self.amp, self.mirror = resolve_amp(amp, device), mirror
        self.photo_statistics = checked_share(photo_statistics)
        self.profile = profile or {}  # the settings the network was trained with, when known

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "auto", mirror: bool = True,
                        photo_statistics: float | None = None) -> Segmenter:
        """The checkpoint's network at its training resolution, in the precision its profile asks for
        (``auto``: bfloat16 where this device has it), with its profile's share of each photo's own
        statistics unless ``photo_statistics`` overrides it (checkpoints from before the setting: 0)."""
        record = load_checkpoint(path)
        profile = record["profile"]
        share = profile.get("photo_statistics", 0.0) if photo_statistics is None else photo_statistics
        return cls(model_from_checkpoint(record), profile["image_size"], resolve_device(device),
                   profile.get("amp", "fp32"), mirror, profile, share)

    def _fit(self, rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        height, width, _ = rgb.shape
        scale = self.size / max(height, width)
        inner = (max(1, round(height * scale)), max(1, round(width * scale)))
        # torch.tensor copies: a photo may be a read-only map or a mirrored view
        image = torch.tensor(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
        image = F.interpolate(image, size=inner, mode="bilinear", antialias=True, align_corners=False)
        padded = torch.tensor(MEAN_PIXEL).view(3, 1, 1).repeat(1, self.size, self.size)
        padded[:, :inner[0], :inner[1]] = image[0].clamp(0, 255)
        return padded, inner

    def masks(self, photos: list[np.ndarray]) -> list[np.ndarray]:
        """Sneaker masks (bool, each photo's own height × width) for RGB uint8 photos, as one batch."""
        if not photos:
            return []
        fitted = [self._fit(rgb) for rgb in photos]
        answers = log_probabilities(self.model, torch.stack([image for image, _ in fitted]), self.amp,
                                    self.mirror, self.photo_statistics)
        out = []
        for scores, (_, inner), rgb in zip(answers, fitted, photos, strict=True):
            scores = scores[None, :, :inner[0], :inner[1]]
            full = F.interpolate(scores, size=rgb.shape[:2], mode="bilinear", align_corners=False)
            out.append(full[0].argmax(0).bool().cpu().numpy())
        return out
