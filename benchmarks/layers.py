"""Where a training step's time goes: every convolution on its own, and fc6 both as a convolution and
as a matrix product."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.training_step import _seconds_per_step, _train_setup
from fcn_lib import acceleration, models


def _inputs_of(modules: dict, forward: Callable, device, amp: str) -> dict:
    """What each of ``modules`` is given during one ``forward`` under ``amp``: copies with the same
    shape, precision, memory layout and need for a gradient."""
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
    device = acceleration.resolve_device(device)
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
        if name == "trunk.fc6":  # both ways, whichever this device's step uses
            ways = {"fc6 as a convolution": lambda x, m=module: nn.Conv2d.forward(m, x),
                    "fc6 as a matrix product": lambda x, m=module: models.as_matrix_product(x, m)}
            fc6_ways = {way: layer_step(forward, module, inputs[name], gradient)
                        for way, forward in ways.items()}
    timed = {**runs, **fc6_ways}
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
            "fc6_as_convolution": figures("fc6 as a convolution"),
            "fc6_as_matrix_product": {
                **figures("fc6 as a matrix product"),
                "speedup": round(median["fc6 as a convolution"] / median["fc6 as a matrix product"], 2)}}
