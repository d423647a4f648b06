"""Benchmarks that print JSON: measured figures, not timed tests."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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


def _seconds_per_step(step, steps: int, device) -> float:
    """Wall time of ``steps`` training steps, divided by their number (the GPU's queue drained first)."""
    import torch

    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    synchronise()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronise()
    return (time.perf_counter() - start) / steps


def _reference_sgd(model):
    """The seed's optimiser for ``model`` (momentum 0.99, weight decay 5e-4, summed loss), as the
    full profile trains; the learning rate is immaterial to a benchmark."""
    from fcn_lib import train

    return train.make_optimizer(model, train.Schedule(10**9, 1e-10, 0, 1.0, 0.99, 5e-4, "sum"))


@dataclass(frozen=True)
class _TrainingStep:
    """What the training benchmarks time: a whole step and, within it, the SGD update alone."""

    step: Callable[[], None]  # forward, backward and update on a fixed batch
    update: Callable[[], None]  # the update alone, with the gradients the last step left
    flops: int  # of the forward and backward, counted once, eagerly
    compiled: bool


def _train_setup(arch, layout, size, batch, width, amp, channels_last, compile, device) -> _TrainingStep:
    """A network, the reference's SGD and a fixed random batch on ``device``, ready to time.
    ``compile``: a torch.compile mode, or None for eager."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fcn_lib import acceleration, data, models, train

    model = models.build(arch, layout=layout, width=width)
    model = model.to(device, memory_format=acceleration.memory_format(channels_last))
    optimizer = _reference_sgd(model)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 2, (batch, size, size), dtype=torch.uint8, generator=generator)
    images, masks = data.to_model(pixels, labels, device, channels_last)

    def loss_of(network):
        with acceleration.autocast(device, amp):
            logits = network(images)
        return train.segmentation_loss(logits, masks, "sum")

    with FlopCounterMode(display=False) as counter:
        loss_of(model).backward()
    model.zero_grad(set_to_none=True)
    network, compiled = model, False
    if compile:
        network, compiled = acceleration.compile_or_eager(model, lambda net: loss_of(net).backward(),
                                                          mode=compile)

    def step():
        loss = loss_of(network)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return _TrainingStep(step, optimizer.step, counter.get_total_flops(), compiled)


def _peak_memory_mb(job) -> float:
    """One training step in a fresh process; its peak resident memory (CPU) or allocation (CUDA)."""
    import resource

    import torch

    arch, layout, size, batch, width, device = job
    _train_setup(arch, layout, size, batch, width, amp="fp32", channels_last=False, compile=None,
                 device=torch.device(device)).step()
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    # VmHWM is this process's own peak; ru_maxrss would also count the parent's size at fork time.
    status = Path("/proc/self/status")
    if status.exists():
        peak = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(peak.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_model(arch: str = "fcn8s", layouts=("aligned", "caffe"), size: int = 224, batch: int = 1,
                width: float = 1.0, device: str = "auto", rounds: int = 3, steps: int = 2) -> dict:
    """Training images per second (forward, backward, SGD step) per layout, the layouts alternating
    round by round in one process so that both see the same machine; peak memory from a fresh process
    per layout."""
    import multiprocessing

    import torch

    from fcn_lib.train import resolve_device

    device = resolve_device(device)
    setups = {layout: _train_setup(arch, layout, size, batch, width, amp="fp32", channels_last=False,
                                   compile=None, device=device).step for layout in layouts}
    for step in setups.values():
        step()  # warm-up
    seconds = {layout: [] for layout in layouts}
    for _ in range(rounds):
        for layout, step in setups.items():
            seconds[layout].append(_seconds_per_step(step, steps, device))
    del setups
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:  # a fresh process each
        memory = {layout: pool.apply(_peak_memory_mb, ((arch, layout, size, batch, width, str(device)),))
                  for layout in layouts}
    result = {"benchmark": "model", "arch": arch, "size": size, "batch": batch, "width": width,
              "device": str(device), "threads": torch.get_num_threads(), "rounds": rounds, "layouts": {}}
    for layout in layouts:
        best = statistics.median(seconds[layout])
        result["layouts"][layout] = {"images_per_s": round(batch / best, 3), "step_s": round(best, 4),
                                     "peak_memory_mb": round(memory[layout], 1)}
    if "aligned" in result["layouts"] and "caffe" in result["layouts"]:
        result["aligned_over_caffe"] = round(result["layouts"]["aligned"]["images_per_s"]
                                             / result["layouts"]["caffe"]["images_per_s"], 2)
    return result


def bench_train(arch: str = "fcn8s", layouts=("aligned",), amps=("bf16",), size: int = 224, batch: int = 15,
                width: float = 1.0, channels_last: bool = True, compile: str | None = None,
                device: str = "auto", steps: int = 10, rounds: int = 3) -> dict:
    """Training images per second, step time and FLOP rate of every (layout, amp) pair, the pairs
    alternating round by round in one process so that all see the same machine; the first pair is the
    reference of the ``speedup`` column. ``compile``: a ``torch.compile`` mode, or None for eager.

    ``update_s`` is the SGD update alone, timed the same way: it reads and writes every weight, its
    gradient and its momentum however small the batch, so it shows how much of a step is moving the
    134 M parameters rather than computing on the images."""
    import torch

    from fcn_lib import acceleration
    from fcn_lib.train import resolve_device

    device = resolve_device(device)
    acceleration.configure_backends(device)
    setups = {(layout, amp): _train_setup(arch, layout, size, batch, width, amp, channels_last, compile,
                                          device) for layout in layouts for amp in amps}
    seconds = {pair: {"step": [], "update": []} for pair in setups}
    for setup in setups.values():  # warm-up: cuDNN's algorithm search, allocator growth
        for _ in range(3):
            setup.step()
    for _ in range(rounds):
        for pair, setup in setups.items():
            seconds[pair]["step"].append(_seconds_per_step(setup.step, steps, device))
            seconds[pair]["update"].append(_seconds_per_step(setup.update, steps, device))
    result = {"benchmark": "train", "arch": arch, "size": size, "batch": batch, "width": width,
              "channels_last": channels_last, "device": torch.cuda.get_device_name(device)
              if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
              "torch": torch.__version__, "runs": []}
    reference = None
    for (layout, amp), setup in setups.items():
        median, update = (statistics.median(seconds[(layout, amp)][part]) for part in ("step", "update"))
        reference = reference or median
        result["runs"].append({
            "layout": layout, "amp": amp, "compiled": compile if setup.compiled else False,
            "images_per_s": round(batch / median, 2), "step_s": round(median, 5),
            "update_s": round(update, 5), "update_share": round(update / median, 3),
            "gflop_per_image": round(setup.flops / batch / 1e9, 3),
            "tflop_per_s": round(setup.flops / median / 1e12, 2), "speedup": round(reference / median, 2)})
    return result


def as_matrix_product(conv) -> Callable:
    """A stride-1 convolution computed as one matrix product over its input's patches, the way a fully
    connected layer is. ``bench_layers`` times fc6 this way beside cuDNN's convolution: it is VGG-16's
    fully connected layer turned into a 7×7 convolution over a 7×7 map, a shape that convolution
    kernels are not tuned for (15 × 49 rows against 25,088 × 4,096 weights). Patches are taken in
    (row, column, channel) order, the order of a channels_last weight, so the weight is not copied."""
    import torch.nn.functional as F

    (kernel_h, kernel_w), (pad_h, pad_w) = conv.kernel_size, conv.padding

    def forward(x):
        windows = F.pad(x, (pad_w, pad_w, pad_h, pad_h)).unfold(2, kernel_h, 1).unfold(3, kernel_w, 1)
        n, _, rows, columns = windows.shape[:4]  # then the kernel's rows and columns
        patches = windows.permute(0, 2, 3, 4, 5, 1).reshape(n * rows * columns, -1)
        weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)
        product = F.linear(patches, weight, conv.bias)  # one row per output pixel
        return product.view(n, rows, columns, -1).permute(0, 3, 1, 2)  # channels_last, as cuDNN's
    return forward


def _inputs_of(modules: dict, forward: Callable, device, amp: str) -> dict:
    """What each of ``modules`` is given during one ``forward`` under ``amp``: copies with the same
    shape, precision, memory layout and need for a gradient."""
    from fcn_lib import acceleration

    inputs = {}

    def keep_input(name: str):
        def hook(module, given: tuple, output) -> None:
            inputs[name] = given[0].detach().clone().requires_grad_(given[0].requires_grad)
        return hook

    hooks = [module.register_forward_hook(keep_input(name)) for name, module in modules.items()]
    try:
        with acceleration.autocast(device, amp):
            forward()
    finally:
        for hook in hooks:
            hook.remove()
    return inputs


def bench_layers(arch: str = "fcn8s", layout: str = "aligned", size: int = 224, batch: int = 15,
                 width: float = 1.0, amp: str = "bf16", channels_last: bool = True, device: str = "auto",
                 steps: int = 10, rounds: int = 3) -> dict:
    """Where an eager training step's time goes: every convolution's forward and backward on its own,
    at the shapes, precision and memory layout that a step gives it (an input that needs no gradient,
    the image, gets none), beside the whole step and its SGD update. What neither accounts for is
    the rest: pooling, activations, dropout, the loss, the casts."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from fcn_lib import acceleration, models
    from fcn_lib.train import resolve_device

    device = resolve_device(device)
    acceleration.configure_backends(device)
    whole = _train_setup(arch, layout, size, batch, width, amp, channels_last, None, device)
    memory_format = acceleration.memory_format(channels_last)
    model = models.build(arch, layout=layout, width=width).to(device, memory_format=memory_format)
    convolutions = {name: module for name, module in model.named_modules()
                    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d)}
    image = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory_format)
    inputs = _inputs_of(convolutions, lambda: model(image), device, amp)

    def layer_step(forward: Callable, module: nn.Module, given: torch.Tensor, gradient: torch.Tensor):
        """One forward and backward through ``forward``, gradients cleared as a training step clears them."""
        def run() -> None:
            module.zero_grad(set_to_none=True)
            given.grad = None
            with acceleration.autocast(device, amp):
                output = forward(given)
            output.backward(gradient)
        return run

    runs = {}
    for name, module in convolutions.items():
        with torch.no_grad(), acceleration.autocast(device, amp):
            gradient = torch.randn_like(module(inputs[name]))
        runs[name] = layer_step(module, module, inputs[name], gradient)
        if name == "trunk.fc6":
            fc6_product = layer_step(as_matrix_product(module), module, inputs[name], gradient)
    timed = {**runs, "fc6 as a matrix product": fc6_product}
    flops = {}
    for name, run in timed.items():
        with FlopCounterMode(display=False) as counter:
            run()
        flops[name] = counter.get_total_flops()
    for run in [whole.step, *timed.values()] * 3:  # warm-up: cuDNN's algorithm search
        run()
    seconds = {name: [] for name in ["step", "update", *timed]}
    for _ in range(rounds):
        seconds["step"].append(_seconds_per_step(whole.step, steps, device))
        seconds["update"].append(_seconds_per_step(whole.update, steps, device))
        for name, run in timed.items():
            seconds[name].append(_seconds_per_step(run, steps, device))
    median = {name: statistics.median(values) for name, values in seconds.items()}

    def figures(name: str) -> dict:
        return {"ms": round(median[name] * 1e3, 3), "gflop": round(flops[name] / 1e9, 3),
                "tflop_per_s": round(flops[name] / median[name] / 1e12, 2),
                "share_of_step": round(median[name] / median["step"], 3)}

    layers = [{"layer": name, "kind": type(convolutions[name]).__name__, "input": list(inputs[name].shape),
               "kernel": list(convolutions[name].kernel_size), **figures(name)} for name in runs]
    convolution_s = sum(median[name] for name in runs)
    return {"benchmark": "layers", "arch": arch, "layout": layout, "size": size, "batch": batch,
            "width": width, "amp": amp, "channels_last": channels_last,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "step_ms": round(median["step"] * 1e3, 3), "update_ms": round(median["update"] * 1e3, 3),
            "convolutions_ms": round(convolution_s * 1e3, 3),
            "rest_ms": round((median["step"] - median["update"] - convolution_s) * 1e3, 3),
            "step_gflop": round(whole.flops / 1e9, 3),
            "convolutions_gflop": round(sum(flops[name] for name in runs) / 1e9, 3), "layers": layers,
            "fc6_as_matrix_product": {
                **figures("fc6 as a matrix product"),
                "speedup": round(median["trunk.fc6"] / median["fc6 as a matrix product"], 2)}}


def bench_checkpoint(arch: str = "fcn8s", width: float = 1.0, device: str = "auto", rounds: int = 3) -> dict:
    """How long a checkpoint (weights and SGD momentum) stops training: written in place, serialised
    and flushed to the disk before the next step, against copied to host memory and handed to the
    background writer. Written into the artifacts folder's disk, alternating round by round."""
    import tempfile

    import torch

    from fcn_lib import models, paths, train
    from fcn_lib.background_save import BackgroundWriter, host_copy

    device = train.resolve_device(device)
    model = models.build(arch, width=width).to(device)
    optimizer = _reference_sgd(model)
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
            train.save_checkpoint(path, record())
            in_place.append(time.perf_counter() - start)
            start = time.perf_counter()
            writer.submit(train.save_checkpoint, path, host_copy(record()))
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


def bench_loader(profile_name: str = "full", stage: str = "fcn8s_background", steps: int = 100,
                 num_workers: int | None = None, device: str = "auto") -> dict:
    """Training batches per second that the profile's data path delivers to the device (workers,
    pinned memory and the copy included), without any network: what the GPU must not wait for."""
    import torch

    from fcn_lib import config, data, train

    profile = config.load_profile(profile_name)
    workers = profile.num_workers if num_workers is None else num_workers
    device = train.resolve_device(device)
    train_set, _ = train.stage_datasets(profile, train.STAGES[stage])
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


def bench_schedule(profile_name: str = "full", fraction: float = 0.1,
                   stages=("fcn32s_white", "fcn16s_white", "fcn8s_white", "fcn8s_background"),
                   **overrides) -> dict:
    """Run every stage of a profile for ``fraction`` of its iterations (learning-rate drops alike),
    validating and checkpointing as many times as the full run does, and project the full schedule's
    time: this run's wall time (setup, validations, checkpoints) plus the steps it left out at their
    measured rate."""
    from fcn_lib import config, train

    profile = config.load_profile(profile_name, **overrides)
    changes = {"profile": f"{profile.profile}-{fraction:g}",
               "val_every": max(1, round(profile.val_every * fraction))}
    for key in {train.STAGES[name].key for name in stages}:
        changes[f"iterations_{key}"] = max(1, round(getattr(profile, f"iterations_{key}") * fraction))
        changes[f"lr_drop_{key}"] = round(getattr(profile, f"lr_drop_{key}") * fraction)
    shortened = profile.replace(**changes)
    report = {"benchmark": "schedule", "profile": profile.profile, "fraction": fraction,
              "overrides": overrides, "stages": []}
    for name in stages:
        start = time.perf_counter()
        record = train.load_checkpoint(train.train_stage(shortened, name, progress=False))
        wall = time.perf_counter() - start
        history, steps = record["history"], record["step"]
        rate = statistics.median(entry["images_per_s"] for entry in history["train"])
        validation = statistics.mean(entry["seconds"] for entry in history["val"])
        full_steps = getattr(profile, f"iterations_{train.STAGES[name].key}")
        full_validations = -(-full_steps // profile.val_every)  # every val_every steps, and at the end
        training = steps * shortened.batch_size / rate
        report["stages"].append({
            "stage": name, "steps": steps, "wall_s": round(wall, 3), "images_per_s": round(rate, 1),
            # the rest: data, network and compiler made ready, checkpoint pauses, the last write
            "setup_s": round(wall - training - validation * len(history["val"]), 2),
            "validations": len(history["val"]), "full_validations": full_validations,
            "validation_s": round(validation, 2),
            "sneaker_iou": round(history["val"][-1]["sneaker_iou"], 4),
            "boundary_f": round(history["val"][-1]["boundary_f"], 4),
            "projected_full_s": round(wall + full_steps * profile.batch_size / rate - training
                                      + (full_validations - len(history["val"])) * validation, 3)})
    report["wall_s"] = round(sum(stage["wall_s"] for stage in report["stages"]), 3)
    report["projected_full_s"] = round(sum(stage["projected_full_s"] for stage in report["stages"]), 3)
    return report
