"""Benchmarks that print JSON: measured figures, not timed tests."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from fcn_lib import compose, data, scenes, synth


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
    import tempfile

    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        synth.write_catalog(os.path.join(folder, "catalog"), count, size, seed=0, workers=workers,
                            progress=False)
        seconds = time.perf_counter() - start
    return {"benchmark": "catalog", "size": size, "count": count, "workers": workers,
            "seconds": round(seconds, 2), "images_per_s": round(count / seconds, 1)}
