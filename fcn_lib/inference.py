"""Using a trained network: sneaker masks for photos of any size, and scores against known masks.

A network is trained at one resolution (the profile's ``image_size``) and sneakers at that scale are
what it knows. So every photo is scaled until its longer side is that size, padded to a square (with
zeros, the mean colour after normalisation) so that photos of different shapes share a batch, and the
scores are cropped and upsampled back to the photo's own size before the per-pixel decision.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from fcn_lib.acceleration import autocast, resolve_amp
from fcn_lib.data import normalise
from fcn_lib.train import load_checkpoint, mirror_average, model_from_checkpoint, resolve_device


class Segmenter:
    """A trained FCN ready for photos: ``masks(photos)`` gives one boolean mask per photo, decided on
    the photo and its mirror image together (``mirror``, see ``fcn_lib.train.mirror_average``)."""

    def __init__(self, model: torch.nn.Module, size: int, device: torch.device, amp: str = "fp32",
                 mirror: bool = True):
        self.model, self.size, self.device = model.to(device).eval(), size, device
        self.amp, self.mirror = resolve_amp(amp, device), mirror

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "auto", mirror: bool = True
                        ) -> Segmenter:
        """The checkpoint's network at its training resolution, in the precision its profile asks for
        (``auto``: bfloat16 where this device has it)."""
        record = load_checkpoint(path)
        return cls(model_from_checkpoint(record), record["profile"]["image_size"], resolve_device(device),
                   record["profile"].get("amp", "fp32"), mirror)

    def _fit(self, rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        height, width, _ = rgb.shape
        scale = self.size / max(height, width)
        inner = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
        image = F.interpolate(image, size=inner, mode="bilinear", antialias=True, align_corners=False)
        padded = torch.zeros(3, self.size, self.size)
        padded[:, :inner[0], :inner[1]] = normalise(image[0].clamp(0, 255))
        return padded, inner

    @torch.no_grad()
    def masks(self, photos: list[np.ndarray]) -> list[np.ndarray]:
        """Sneaker masks (bool, each photo's own height × width) for RGB uint8 photos, as one batch."""
        if not photos:
            return []
        fitted = [self._fit(rgb) for rgb in photos]
        images = torch.stack([image for image, _ in fitted]).to(self.device)
        with autocast(self.device, self.amp):
            class_scores = self.model(images)  # logits, or with mirror: averaged probabilities
            if self.mirror:
                class_scores = mirror_average(class_scores, self.model(images.flip(-1)))
        out = []
        for scores, (_, inner), rgb in zip(class_scores.float(), fitted, photos, strict=True):
            scores = scores[None, :, :inner[0], :inner[1]]
            full = F.interpolate(scores, size=rgb.shape[:2], mode="bilinear", align_corners=False)
            out.append(full[0].argmax(0).bool().cpu().numpy())
        return out
