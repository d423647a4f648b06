"""How fast the data is made: composites, the rendered catalogue, and a profile's whole loader."""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from fcn_lib import acceleration, catalog, compose, config, data, scenes, stages, synth


def _composite_worker(job: tuple[int, int, int]) -> float:
    size, count, seed = job
    cutouts = [compose.make_cutout(*synth.render_item(seed, i, size)[:2]) for i in range(32)]
    backgrounds = data.load_scenes(scenes.embedded_scenes("train"), size)
    rng = np.random.default_rng(seed)
    for i in range(5):  # warm-up
        compose.compose(backgrounds[i % len(backgrounds)], cutouts, size, rng)
    start = time.perf_counter()
    for i in range(count):
        compose.compose(backgrounds[i % len(backgrounds)], cutouts, size, rng)
    return count / (time.perf_counter() - start)


def bench_composite(size: int = 224, count: int = 2000, workers: int = 1) -> dict:
    """Composites per second: each worker process composes ``count`` images on its own core."""
    jobs = [(size, count, seed) for seed in range(workers)]
    if workers == 1:
        rates = [_composite_worker(jobs[0])]
    else:
        with ProcessPoolExecutor(workers) as pool:
            rates = list(pool.map(_composite_worker, jobs))
    total = float(sum(rates))
    return {"benchmark": "composite", "size": size, "workers": workers, "composites_per_s": round(total, 1),
            "per_core": round(total / workers, 1), "cpu_count": os.cpu_count()}


def bench_catalog(size: int = 224, count: int = 4500, workers: int | None = None) -> dict:
    """Wall time to render and write a catalogue of ``count`` sneakers (into a temporary folder)."""
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        catalog.write_embedded_catalog(os.path.join(folder, "catalog"), count, size, seed=0, workers=workers,
                            progress=False)
        seconds = time.perf_counter() - start
    return {"benchmark": "catalog", "size": size, "count": count, "workers": workers,
            "seconds": round(seconds, 2), "images_per_s": round(count / seconds, 1)}


def bench_loader(profile_name: str = "full", stage: str = "fcn8s_background", steps: int = 100,
                 num_workers: int | None = None, device: str = "auto", **overrides) -> dict:
    """Training batches per second that the profile's data path delivers to the device (workers,
    pinned memory and the copy included), without any network: what the GPU must not wait for.
    ``overrides`` change profile settings (e.g. the embedded data on a machine without the real)."""
    profile = config.load_profile(profile_name, **overrides)
    workers = profile.num_workers if num_workers is None else num_workers
    device = acceleration.resolve_device(device)
    train_set, _ = stages.stage_datasets(profile, stages.stage_named(stage))
    loader = data.training_loader(train_set, profile.batch_size, 0, steps + 1, workers)
    batches = iter(loader)
    next(batches)  # workers started and first batches made
    start = time.perf_counter()
    for pixels, labels in batches:
        data.to_model(pixels, labels, device, profile.channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"benchmark": "loader", "profile": profile.profile, "stage": stage, "workers": workers,
            "batch": profile.batch_size, "size": profile.image_size, "steps": steps,
            "images_per_s": round(steps * profile.batch_size / seconds, 1),
            "steps_per_s": round(steps / seconds, 2)}
