"""How fast a training step is: per layout, per precision, compiled or not, with its FLOP rate."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from fcn_lib import acceleration, data, models, optim


def _seconds_per_step(step, steps: int, device) -> float:
    """Wall time of ``steps`` training steps, divided by their number (the GPU's queue drained first)."""
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    synchronise()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronise()
    return (time.perf_counter() - start) / steps


def _optimizer(model, kind: str):
    """The seed's SGD (momentum 0.99, weight decay 5e-4, summed loss), as the full profile trains, or
    the cpu profile's Adam; the learning rate is immaterial to a benchmark."""
    if kind == "adam":
        return optim.make_optimizer(model, optim.Schedule(10**9, 1e-3, 0, 1.0, 0.9, 0.0, "mean", "adam"))
    return optim.make_optimizer(model, optim.Schedule(10**9, 1e-10, 0, 1.0, 0.99, 5e-4, "sum"))


# float32 multiply-adds per cycle and core: two FMA units of 8 lanes (AVX2) or 16 (AVX-512)
_FMA_LANES = {"AVX2": 16, "AVX512": 32}


def cpu_peak_gflops(threads: int) -> dict:
    """The nominal float32 peak of ``threads`` cores at their current clock, for the ISA PyTorch
    dispatches to: 2 FLOP per multiply-add, two FMA units per core. A yardstick, not a promise (turbo
    and AVX-512 clocks differ)."""
    isa = torch.backends.cpu.get_cpu_capability()
    megahertz = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("cpu MHz")] if Path("/proc/cpuinfo").exists() else []
    if not megahertz or isa not in _FMA_LANES:
        return {"isa": isa, "peak_gflop_per_s": None}
    ghz = max(megahertz) / 1000
    return {"isa": isa, "ghz": round(ghz, 2),
            "peak_gflop_per_s": round(threads * ghz * _FMA_LANES[isa] * 2, 1)}


@dataclass(frozen=True)
class _TrainingStep:
    """What the training benchmarks time: a whole step and, within it, the SGD update alone."""

    step: Callable[[], None]  # forward, backward and update on a fixed batch
    update: Callable[[], None]  # the update alone, with the gradients the last step left
    flops: int  # of the forward and backward, counted once, eagerly
    compiled: bool


def _train_setup(arch, layout, size, batch, width, amp, channels_last, compile, device,
                 optimizer_kind: str = "sgd", normalisation: str = "none") -> _TrainingStep:
    """A network, its optimiser and a fixed random batch on ``device``, ready to time.
    ``compile``: a torch.compile mode, or None for eager."""
    model = models.build(arch, layout=layout, width=width, normalisation=normalisation)
    model = model.to(device, memory_format=acceleration.memory_format(channels_last))
    optimizer = _optimizer(model, optimizer_kind)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 2, (batch, size, size), dtype=torch.uint8, generator=generator)
    images, masks = data.to_model(pixels, labels, device, channels_last)

    def loss_of(network):
        with acceleration.autocast(device, amp):
            logits = network(images)
        return optim.segmentation_loss(logits, masks, "sum")

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

    device = acceleration.resolve_device(device)
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
                device: str = "auto", steps: int = 10, rounds: int = 3, optimizer: str = "sgd",
                normalisation: str = "none") -> dict:
    """Training images per second, step time and FLOP rate of every (layout, amp) pair, the pairs
    alternating round by round in one process so that all see the same machine; the first pair is the
    reference of the ``speedup`` column. ``compile``: a ``torch.compile`` mode, or None for eager.

    ``update_s`` is the update alone (the seed's SGD, or ``optimizer="adam"`` as the cpu profile
    trains), timed the same way: it reads and writes every weight, its
    gradient and its momentum however small the batch, so it shows how much of a step is moving the
    134 M parameters rather than computing on the images. ``normalisation="batch"``: the trunk as the
    cpu profile trains it (fcn_lib.models.VGG16Trunk)."""
    device = acceleration.resolve_device(device)
    acceleration.configure_backends(device)
    setups = {(layout, amp): _train_setup(arch, layout, size, batch, width, amp, channels_last, compile,
                                          device, optimizer, normalisation)
              for layout in layouts for amp in amps}
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
              "torch": torch.__version__, "optimizer": optimizer, "normalisation": normalisation, "runs": []}
    if device.type == "cpu":
        result["cpu"] = cpu_peak_gflops(torch.get_num_threads())
    peak = result.get("cpu", {}).get("peak_gflop_per_s")
    reference = None
    for (layout, amp), setup in setups.items():
        median, update = (statistics.median(seconds[(layout, amp)][part]) for part in ("step", "update"))
        reference = reference or median
        result["runs"].append({
            "layout": layout, "amp": amp, "compiled": compile if setup.compiled else False,
            "images_per_s": round(batch / median, 2), "step_s": round(median, 5),
            "update_s": round(update, 5), "update_share": round(update / median, 3),
            "gflop_per_image": round(setup.flops / batch / 1e9, 3),
            "tflop_per_s": round(setup.flops / median / 1e12, 2), "speedup": round(reference / median, 2),
            # against the float32 peak, so float32 runs only: bfloat16 on AMX can go past it
            **({"share_of_peak": round(setup.flops / median / 1e9 / peak, 3)}
               if peak and amp == "fp32" else {})})
    return result
