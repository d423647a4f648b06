"""Scores for masks and segmentations.

Segmentation is scored as the reference scores it: one confusion matrix accumulated over every pixel of
a split, and the scores computed from it at the end (not averaged per image, which would weigh a small
image as much as a large one).
"""

from __future__ import annotations

import numpy as np
import torch


def binary_iou(prediction: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union of two boolean masks; two empty masks agree perfectly (1.0)."""
    prediction, target = np.asarray(prediction, bool), np.asarray(target, bool)
    if prediction.shape != target.shape:
        raise ValueError(f"mask shapes differ: {prediction.shape} vs {target.shape}")
    union = np.logical_or(prediction, target).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, target).sum() / union)


def confusion_matrix(prediction: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``matrix[t, p]`` counts pixels of true class ``t`` predicted as ``p`` (on the inputs' device).
    Targets outside ``0 .. num_classes-1`` (an ignore label such as 255) are not counted."""
    valid = (target >= 0) & (target < num_classes)
    pairs = target[valid].long() * num_classes + prediction[valid].long()
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def segmentation_scores(matrix: np.ndarray | torch.Tensor, positive: int = 1) -> dict[str, float]:
    """The reference's four scores from a confusion matrix, plus the IoU of the ``positive`` class.

    Classes absent from both truth and prediction are left out of the means, as in the reference.
    """
    m = torch.as_tensor(matrix, dtype=torch.float64).cpu()
    true_positive, truth, predicted = m.diag(), m.sum(1), m.sum(0)
    union = truth + predicted - true_positive
    present = union > 0
    iou = torch.where(present, true_positive / union.clamp(min=1), torch.nan)
    accuracy = torch.where(truth > 0, true_positive / truth.clamp(min=1), torch.nan)
    frequency = truth / truth.sum().clamp(min=1)
    return {
        "pixel_accuracy": float(true_positive.sum() / m.sum().clamp(min=1)),
        "mean_accuracy": float(accuracy.nanmean()),
        "mean_iu": float(iou.nanmean()),
        "frequency_weighted_iu": float((frequency[present] * iou[present]).sum()),
        "sneaker_iou": float(iou[positive]) if present[positive] else 1.0,
    }
