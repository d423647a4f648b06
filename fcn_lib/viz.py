"""Pictures for the notebooks: image grids, mask overlays and error maps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

SNEAKER_TINT = np.array([255, 0, 200], np.float32)


def overlay(image: np.ndarray, mask: np.ndarray, strength: float = 0.4) -> np.ndarray:
    """Tint the *background* of ``image``, so the sneaker the mask keeps stays in its own colours."""
    out = image.astype(np.float32).copy()
    out[~mask] = (1 - strength) * out[~mask] + strength * SNEAKER_TINT
    return out.astype(np.uint8)


def error_map(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Grey where both say sneaker, red where only the prediction does, blue where it missed."""
    out = np.zeros((*truth.shape, 3), np.uint8)
    out[prediction & truth] = (190, 190, 190)
    out[prediction & ~truth] = (230, 40, 40)
    out[~prediction & truth] = (40, 90, 240)
    return out


def grid(images, titles=None, columns: int = 6, tile: float = 1.9, suptitle: str | None = None):
    """Show images in a grid with optional titles; returns the figure."""
    images = list(images)
    rows = max(1, -(-len(images) // columns))
    height = tile * rows + (0.4 if suptitle else 0)
    figure, axes = plt.subplots(rows, columns, figsize=(tile * columns, height), squeeze=False)
    for k, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if k < len(images):
            axis.imshow(images[k], cmap="gray" if np.ndim(images[k]) == 2 else None)
            if titles is not None:
                axis.set_title(titles[k], fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure
