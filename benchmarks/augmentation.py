"""What the scene stage's random convolutions cost, beside the training step they are added to."""

from __future__ import annotations

import statistics

import torch

from benchmarks.training_step import _seconds_per_step, _train_setup
from fcn_lib import acceleration, data
from fcn_lib.random_convolution import random_convolution, step_generator


def bench_random_convolution(share: float = 0.5, size: int = 128, batch: int = 8, width: float = 0.125,
                             device: str = "cpu", steps: int = 20, rounds: int = 3) -> dict:
    """Seconds per batch of ``random_convolution`` at ``share`` and of the cpu profile's training step
    (FCN-8s, float32, Adam), alternating round by round in one process; the filtering's share is
    what it adds to every scene-stage step."""
    device = acceleration.resolve_device(device)
    step = _train_setup("fcn8s", "aligned", size, batch, width, amp="fp32", channels_last=True,
                        compile=None, device=device, optimizer_kind="adam").step
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.zeros(batch, size, size, dtype=torch.uint8)
    images, _ = data.to_model(pixels, labels, device, channels_last=True)
    draws = iter(range(10**9))  # a new step's draws every call, as in training

    def filtering():
        random_convolution(images, share, step_generator(0, next(draws)))

    step(), filtering()  # warm-up
    seconds = {"filter": [], "step": []}
    for _ in range(rounds):
        seconds["filter"].append(_seconds_per_step(filtering, steps, device))
        seconds["step"].append(_seconds_per_step(step, steps, device))
    filter_s, step_s = statistics.median(seconds["filter"]), statistics.median(seconds["step"])
    return {"benchmark": "random-convolution", "share": share, "size": size, "batch": batch, "width": width,
            "device": f"{device} ({torch.get_num_threads()} threads)",
            "isa": torch.backends.cpu.get_cpu_capability(),
            "rounds": rounds, "filter_s": round(filter_s, 5), "step_s": round(step_s, 5),
            "filter_over_step": round(filter_s / step_s, 3)}
