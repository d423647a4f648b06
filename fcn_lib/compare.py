"""Is one training run better than another? The paired gap over the validations both runs share.

One validation is a noisy measure: a run's score moves by a few hundredths from one validation to the
next, so comparing two runs at a single step can come out either way. Two runs of one book validate
at the same steps on the same images, so every shared validation gives one paired gap; their mean,
and the mean's standard error, say whether a difference is larger than that noise. Neighbouring
validations of one run are not independent, so the standard error is if anything too small: a
difference counts only when it exceeds twice that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gap:
    """``first`` minus ``second`` at each shared validation step."""

    steps: list[int]
    gaps: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.gaps.mean())

    @property
    def standard_error(self) -> float:
        return float(self.gaps.std(ddof=1) / np.sqrt(len(self.gaps))) if len(self.gaps) > 1 else float("inf")

    @property
    def leads(self) -> int:
        """How many of the shared validations the first run is ahead at."""
        return int((self.gaps > 0).sum())

    def describe(self, first: str, second: str) -> str:
        """The comparison in words, as a chapter prints it: "A is ahead of B, by …"."""
        verdict = {1: "ahead of", 0: "not distinguishable from", -1: "behind"}[self.decided()]
        return (f"{first} is {verdict} {second}, by {self.mean:+.3f} on average over {len(self.steps)} "
                f"shared validations (standard error {self.standard_error:.3f}; ahead at {self.leads})")

    def decided(self) -> int:
        """+1: the first run is better, -1: the second is, 0: the gap is within twice its standard error."""
        if abs(self.mean) <= 2 * self.standard_error:
            return 0
        return 1 if self.mean > 0 else -1


def paired_gap(first: dict, second: dict, metric: str = "sneaker_iou", up_to: int | None = None) -> Gap:
    """The gaps between two training histories (``{"val": [{"step": …, metric: …}, …]}``) at every
    validation step both have (up to ``up_to``)."""
    def by_step(history):
        return {row["step"]: row[metric] for row in history["val"] if up_to is None or row["step"] <= up_to}

    a, b = by_step(first), by_step(second)
    steps = sorted(set(a) & set(b))
    if not steps:
        raise ValueError("the two runs share no validation step")
    return Gap(steps, np.array([a[step] - b[step] for step in steps]))
