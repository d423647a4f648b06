"""How a stage learns: the loss, the optimiser, and the learning-rate schedule.

The optimiser is the reference's: SGD with momentum, weight decay on weights only, and twice the
learning rate for biases. The loss reduction is explicit, because the reference's tiny learning rates
(1e-10) belong to a loss *summed* over every pixel of a batch; with a *mean* the same update needs a
learning rate ``pixels_per_batch`` times larger (:func:`equivalent_hyperparameters`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

REDUCTIONS = ("sum", "mean")
OPTIMIZERS = ("sgd", "adam")
DECAYS = ("step", "cosine")


def pixels_per_batch(batch_size: int, image_size: int) -> int:
    return batch_size * image_size * image_size


def _check_reduction(name: str) -> None:
    if name not in REDUCTIONS:
        raise ValueError(f"loss reduction must be one of {REDUCTIONS}, got {name!r}")


def equivalent_hyperparameters(lr: float, weight_decay: float, pixels: int, source: str, target: str
                               ) -> tuple[float, float]:
    """``(lr, weight_decay)`` for the ``target`` reduction that make exactly the update ``source`` makes.

    SGD steps by ``lr * (grad + weight_decay * w)``. The summed loss's gradient is ``pixels`` times the
    mean's, so going from sum to mean multiplies the learning rate by ``pixels`` and divides the weight
    decay by it (their product, the decay per step, is unchanged).
    """
    _check_reduction(source)
    _check_reduction(target)
    if source == target:
        return lr, weight_decay
    factor = pixels if (source, target) == ("sum", "mean") else 1 / pixels
    return lr * factor, weight_decay / factor


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, reduction: str, pixels: int | None = None
                      ) -> torch.Tensor:
    """Per-pixel cross-entropy, summed or averaged over every pixel of the batch, in float32 whatever
    the logits' precision (a summed loss overflows float16).

    ``pixels`` is the whole batch's pixel count when this process holds only its share of the batch
    (under ``torchrun``): a mean then divides by all of them, so the shares' losses add up to the
    batch's.
    """
    _check_reduction(reduction)
    total = F.cross_entropy(logits.float(), target, reduction="sum")
    return total if reduction == "sum" else total / (pixels or target.numel())


@dataclass(frozen=True)
class Schedule:
    """A stage's optimisation settings: its length, its learning rate over time, and the optimiser."""

    iterations: int
    lr: float
    lr_drop: int  # step from which the learning rate is multiplied by drop_factor; 0 = never
    drop_factor: float
    momentum: float
    weight_decay: float
    reduction: str
    optimizer: str = "sgd"
    decay: str = "step"  # "step": the drop above; "cosine": from lr down to lr * drop_factor

    def learning_rate(self, step: int) -> float:
        if self.decay == "cosine":
            progress = min(step, self.iterations) / max(self.iterations, 1)
            remaining = (1 + math.cos(math.pi * progress)) / 2  # 1 at the start, 0 at the end
            return self.lr * (self.drop_factor + (1 - self.drop_factor) * remaining)
        if self.decay != "step":
            raise ValueError(f"learning-rate decay must be one of {DECAYS}, got {self.decay!r}")
        return self.lr * (self.drop_factor if 0 < self.lr_drop <= step else 1.0)


def parameter_groups(model: torch.nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Weights decay at ``lr``; biases learn at ``2 * lr`` without decay; frozen parameters are left out."""
    weights, biases = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (biases if name.endswith("bias") else weights).append(parameter)
    return [{"params": weights, "lr": lr, "lr_mult": 1.0, "weight_decay": weight_decay},
            {"params": biases, "lr": 2 * lr, "lr_mult": 2.0, "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    """The reference's SGD, or Adam (``momentum`` is then its first beta). Adam's steps do not depend on
    the gradient's scale, so for Adam the loss reduction does not change what a learning rate means.
    Build it after moving the network to its device."""
    groups = parameter_groups(model, schedule.lr, schedule.weight_decay)
    # One fused kernel updates every parameter, instead of a pass over them per operation: on the cpu
    # profile's network (AVX2, float32) Adam's update took 8 ms of a 60 ms step, fused it takes 4.5.
    fused = True
    if schedule.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=schedule.lr, momentum=schedule.momentum, fused=fused)
    if schedule.optimizer == "adam":
        return torch.optim.Adam(groups, lr=schedule.lr, betas=(schedule.momentum, 0.999), fused=fused)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {schedule.optimizer!r}")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Continue an optimiser from a checkpoint that may come from another device or version: the saved
    groups also carry their update kernel (fused or not), and this optimiser's is kept."""
    kernels = [{key: group[key] for key in ("fused", "foreach") if key in group}
               for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kernel in zip(optimizer.param_groups, kernels, strict=True):
        group.update(kernel)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]
