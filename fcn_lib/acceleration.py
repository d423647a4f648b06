"""Where a network runs, and what makes its training step fast on a GPU without changing anything on
the CPU unless asked for.

* **bf16 autocast.** Convolutions run in bfloat16 on the tensor cores; the loss is taken from float32
  logits (``fcn_lib.optim.segmentation_loss``), because the reference's loss is a *sum* over every
  pixel of a batch (15 × 224 × 224 ≈ 750,000 terms) and that exceeds float16's largest number, 65,504.
  bfloat16 keeps float32's range, so no loss scaling is needed either.
* **channels_last.** cuDNN's fastest convolutions want NHWC tensors; the weights and each batch are
  stored that way, the model's code is unchanged.
* **torch.compile**, optional: fuses the elementwise work (ReLU, dropout, the skip additions) into the
  convolutions' neighbours. Its ``reduce-overhead`` mode also records the forward and backward passes
  as CUDA graphs, replayed with one launch instead of hundreds (3% faster for FCN-8s at batch 15 on an
  H200, where the convolutions rather than the launches set the pace). When it cannot compile here
  (no compiler, an unsupported platform) the run warns and goes on without it instead of failing.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable

import torch

AMP_MODES = ("fp32", "bf16", "auto")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; any other name as given (``cuda:1``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 in hardware (a recent GPU; a CPU with AVX512-BF16 or AMX),
    where it is faster; elsewhere it would be emulated, and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def resolve_amp(amp: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``; ``auto`` picks bf16 where the hardware has it."""
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}")
    if amp == "auto":
        return "bf16" if bf16_is_native(device) else "fp32"
    return amp


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """The mixed-precision context for ``amp`` (``fp32``: a context that changes nothing)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=resolve_amp(amp, device) == "bf16")


def configure_backends(device: torch.device) -> None:
    """On a GPU: let cuDNN pick the fastest convolution for our fixed image size, and let float32
    matrix work use TF32 tensor cores. On the CPU nothing changes."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def memory_format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def saved_buffers(model: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each buffer of ``model`` with a copy of its value: batch normalisation's running statistics,
    which a forward pass in training mode moves. :func:`restore_buffers` puts the copies back."""
    return [(buffer, buffer.clone()) for buffer in model.buffers()]


def restore_buffers(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for buffer, value in saved:
            buffer.copy_(value)


def compile_or_eager(model: torch.nn.Module, probe: Callable[[torch.nn.Module], None],
                     backend: str = "inductor", mode: str = "default") -> tuple[torch.nn.Module, bool]:
    """``torch.compile(model, mode=mode)``, tried at once with ``probe`` (a forward and backward on a
    real batch) because compilation happens on first use; on failure a warning and the model as it was.

    The probe leaves no trace: random-number generators and buffers (batch normalisation's running
    statistics) are restored and gradients cleared.
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {COMPILE_MODES}, got {mode!r}")
    compiled = torch.compile(model, backend=backend, **({} if mode == "default" else {"mode": mode}))
    devices = [p.device for p in model.parameters() if p.is_cuda][:1]
    buffers = saved_buffers(model)
    try:
        with torch.random.fork_rng(devices=devices):
            probe(compiled)
    except Exception as error:  # any compiler failure means: train eagerly
        warnings.warn(f"torch.compile ({backend}) failed, training without it: "
                      f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                      RuntimeWarning, stacklevel=2)
        return model, False
    finally:
        model.zero_grad(set_to_none=True)
        restore_buffers(buffers)
    return compiled, True
