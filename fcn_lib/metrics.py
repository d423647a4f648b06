"""Scores for masks and segmentations.

Segmentation is scored as the reference scores it: one confusion matrix accumulated over every pixel of
a split, and the scores computed from it at the end (not averaged per image, which would weigh a small
image as much as a large one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F


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


def outlines(masks: torch.Tensor) -> torch.Tensor:
    """The pixels of each mask (N×H×W, bool) that touch the outside in the 4-neighbourhood, the
    image's edge included: each mask's one-pixel outline."""
    cross = torch.tensor([[0.0, 1, 0], [1, 1, 1], [0, 1, 0]], device=masks.device)[None, None]
    padded = F.pad(masks[:, None].float(), (1, 1, 1, 1))  # outside the image counts as background
    interior = F.conv2d(padded, cross)[:, 0] == 5
    return masks & ~interior


def _near(outline: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Pixels within Euclidean distance ``tolerance`` of an outline pixel: a dilation by a disc."""
    reach = int(tolerance)
    offsets = torch.arange(-reach, reach + 1, device=outline.device, dtype=torch.float32)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= tolerance**2).float()[None, None]
    return F.conv2d(outline[:, None].float(), disc, padding=reach)[:, 0] > 0


def boundary_counts(predictions: torch.Tensor, truths: torch.Tensor, tolerance: float = 2.0) -> torch.Tensor:
    """``[predicted outline pixels within tolerance of the true outline, predicted outline pixels,
    true outline pixels within tolerance of the predicted outline, true outline pixels]`` summed over
    a batch of boolean N×H×W masks, on their device.

    Counts rather than a score, so that a whole split can be summed before dividing. The whole batch
    is done by two small convolutions (an erosion and a dilation), so scoring a split on a GPU costs
    no more than predicting it.
    """
    with torch.autocast(predictions.device.type, enabled=False):
        predicted, true = outlines(predictions.bool()), outlines(truths.bool())
        return torch.stack([(predicted & _near(true, tolerance)).sum(), predicted.sum(),
                            (true & _near(predicted, tolerance)).sum(), true.sum()])


def boundary_matches(prediction: np.ndarray, truth: np.ndarray, tolerance: float = 2.0
                     ) -> tuple[int, int, int, int]:
    """:func:`boundary_counts` of one pair of H×W masks, as integers."""
    counts = boundary_counts(torch.as_tensor(np.asarray(prediction, bool))[None],
                             torch.as_tensor(np.asarray(truth, bool))[None], tolerance)
    return tuple(int(c) for c in counts)


def boundary_f_score(counts: tuple[int, int, int, int]) -> float:
    """F1 of outline precision and recall from summed :func:`boundary_matches` counts.

    It rewards a sharp, well-placed outline and ignores the large interior that dominates IoU, which is
    what separates FCN-8s from FCN-32s. Two empty outlines agree perfectly.
    """
    hit_predicted, predicted, hit_true, true = (int(c) for c in counts)
    if predicted == 0 and true == 0:
        return 1.0
    precision = hit_predicted / predicted if predicted else 0.0
    recall = hit_true / true if true else 0.0
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


@dataclass
class SplitScores:
    """Scores accumulated over a whole split: one confusion matrix and summed outline counts."""

    tolerance: float = 2.0
    matrix: torch.Tensor = field(default_factory=lambda: torch.zeros(2, 2, dtype=torch.long))
    outline: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.int64))
    images: int = 0

    def add(self, prediction: np.ndarray, truth: np.ndarray) -> None:
        """One image's prediction and true mask (boolean H×W arrays)."""
        if prediction.shape != truth.shape:
            raise ValueError(f"prediction {prediction.shape} and mask {truth.shape} differ in size")
        self.add_batch(torch.tensor(np.asarray(prediction, bool))[None],
                       torch.tensor(np.asarray(truth, bool))[None])

    def add_batch(self, predictions: torch.Tensor, truths: torch.Tensor) -> None:
        """A batch of predictions and true masks (N×H×W), scored on their device."""
        if predictions.shape != truths.shape:
            raise ValueError(f"predictions {tuple(predictions.shape)} and masks {tuple(truths.shape)} "
                             f"differ in size")
        counts = torch.cat([confusion_matrix(predictions, truths.long(), 2).flatten(),
                            boundary_counts(predictions, truths, self.tolerance)]).cpu()
        self.matrix += counts[:4].view(2, 2)
        self.outline += counts[4:].numpy()
        self.images += len(predictions)

    def result(self) -> dict[str, float]:
        return {**segmentation_scores(self.matrix), "boundary_f": boundary_f_score(tuple(self.outline)),
                "boundary_tolerance_px": self.tolerance, "images": self.images}
