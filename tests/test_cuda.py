"""The GPU path itself; skipped where there is no GPU (CI), run by .ci/gpu-check on a lent one."""

import pytest
import torch

from fcn_lib import acceleration, data, models, optim, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_training_step_never_makes_the_host_wait(optimizer):
    """Everything the loop does per step, with PyTorch raising on any device-to-host synchronisation."""
    device = torch.device("cuda")
    model = models.FCN8s(width=0.25).to(device, memory_format=torch.channels_last)
    schedule = optim.Schedule(10, 1e-3, 0, 1.0, 0.9, 5e-4, "mean", optimizer)
    optimiser = optim.make_optimizer(model, schedule)
    settings = train.StepSettings("bf16", "mean", None, 1)
    images = torch.randint(0, 256, (4, 3, 96, 96), dtype=torch.uint8).pin_memory()  # as the loader gives them
    masks = torch.randint(0, 2, (4, 96, 96), dtype=torch.uint8).pin_memory()
    total = torch.zeros((), device=device)
    for _ in range(2):  # warm-up on the very same path: cuDNN plans and the allocator may wait once
        batch = data.to_model(images, masks, device, channels_last=True)
        train.training_step(model, optimiser, *batch, schedule.learning_rate(0), settings)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            batch = data.to_model(images, masks, device, channels_last=True)
            total += train.training_step(model, optimiser, *batch, schedule.learning_rate(0), settings)
            train._rng_state()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(total).item()


def test_bf16_on_the_gpu_matches_fp32_closely():
    torch.manual_seed(0)
    model = models.FCN8s(width=0.25, dropout=0.0).cuda()  # dropout would differ between the two calls
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.abs().sum() == 0:
            parameter.data.normal_(0, 0.1)
    images = torch.randn(2, 3, 96, 96, device="cuda")
    with acceleration.autocast(images.device, "bf16"):
        fast = model(images.contiguous(memory_format=torch.channels_last))
    torch.backends.cudnn.allow_tf32 = False  # the reference in true float32
    try:
        exact = model(images)
    finally:
        torch.backends.cudnn.allow_tf32 = True
    error = ((fast.float() - exact).norm() / exact.norm()).item()
    assert error < 3e-2, f"bf16 logits differ from float32 by {error:.3g} (relative)"
