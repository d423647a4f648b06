"""How long a checkpoint stops training: written in place, or handed to the background writer."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.training_step import _optimizer
from fcn_lib import acceleration, checkpoints, models, paths
from fcn_lib.background_save import BackgroundWriter, host_copy


def bench_checkpoint(arch: str = "fcn8s", width: float = 1.0, device: str = "auto", rounds: int = 3) -> dict:
    """How long a checkpoint (weights and SGD momentum) stops training: written in place, serialised
    and flushed to the disk before the next step, against copied to host memory and handed to the
    background writer. Written into the artifacts folder's disk, alternating round by round."""
    device = acceleration.resolve_device(device)
    model = models.build(arch, width=width).to(device)
    optimizer = _optimizer(model, "sgd")
    for parameter in model.parameters():  # one step, so that the momentum buffers exist
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()

    def record() -> dict:
        return {"state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}

    root = paths.artifacts_dir("bench").parent
    root.mkdir(parents=True, exist_ok=True)
    in_place, pause, background = [], [], []
    with tempfile.TemporaryDirectory(prefix=".bench-checkpoint-", dir=root) as folder:
        path, writer = Path(folder) / "checkpoint.pt", BackgroundWriter()
        for _ in range(rounds):
            start = time.perf_counter()
            checkpoints.save_checkpoint(path, record())
            in_place.append(time.perf_counter() - start)
            start = time.perf_counter()
            writer.submit(checkpoints.save_checkpoint, path, host_copy(record()))
            pause.append(time.perf_counter() - start)
            writer.wait()
            background.append(time.perf_counter() - start)
        size = path.stat().st_size
    return {"benchmark": "checkpoint", "arch": arch, "width": width, "device": str(device),
            "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "checkpoint_mb": round(size / 2**20, 1), "rounds": rounds,
            "in_place_s": round(statistics.median(in_place), 3),
            "background_pause_s": round(statistics.median(pause), 3),
            "background_write_s": round(statistics.median(background), 3),
            "pause_ratio": round(statistics.median(pause) / statistics.median(in_place), 3)}
