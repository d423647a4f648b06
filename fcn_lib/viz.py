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


def training_curves(histories: dict[str, dict], metric: str = "sneaker_iou", sequential: bool = True,
                    axes=None, offset: int = 0):
    """Training loss and a validation score against step, one line per run; returns the figure.

    ``sequential``: each run's steps continue from the previous run's (starting at ``offset``), so
    staged training reads as one run; otherwise all runs start at step 0, for comparing runs side by
    side. ``axes``: a (loss, score) pair to draw on, e.g. one row of a larger figure.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    loss_axis, score_axis = axes
    figure = loss_axis.figure
    for name, history in histories.items():
        steps = [offset + row["step"] for row in history["train"]]
        loss_axis.plot(steps, [row["loss"] for row in history["train"]], label=name)
        val_steps = [offset + row["step"] for row in history["val"]]
        score_axis.plot(val_steps, [row[metric] for row in history["val"]], marker="o", label=name)
        offset = steps[-1] if steps and sequential else offset
    loss_axis.set(xlabel="step", ylabel="training loss", yscale="log")
    score_axis.set(xlabel="step", ylabel=f"validation {metric.replace('_', ' ')}")
    for axis in (loss_axis, score_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def stage_comparison(images, truths, predictions: dict[str, object]):
    """One row per stage: each photo with its predicted mask, titled with the stage and the IoU.

    ``images`` are pixel tensors (N×3×H×W, uint8), ``truths`` and the predictions boolean N×H×W.
    """
    from fcn_lib.metrics import binary_iou

    photos = [np.asarray(image.permute(1, 2, 0)) for image in images]
    tiles, titles = [], []
    for stage, masks in predictions.items():
        for photo, mask, truth in zip(photos, masks, truths, strict=True):
            tiles.append(overlay(photo, np.asarray(mask)))
            titles.append(f"{stage}: IoU {binary_iou(np.asarray(mask), np.asarray(truth)):.2f}")
    return grid(tiles, titles, columns=len(photos))
