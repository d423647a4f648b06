import warnings

import pytest
import torch

from fcn_lib import acceleration, models, optim


def _model():
    torch.manual_seed(0)
    model = models.FCN8s(width=1 / 32, dropout=0.0)
    for parameter in model.parameters():  # non-zero score layers, so the output depends on the trunk
        if parameter.requires_grad and parameter.abs().sum() == 0:
            parameter.data.normal_(0, 0.1)
    return model


def test_summed_bf16_loss_stays_exact_in_float32_where_float16_would_overflow():
    torch.manual_seed(0)
    logits = torch.randn(15, 2, 224, 224).bfloat16()  # the reference's batch: 752,640 pixels
    masks = torch.randint(0, 2, (15, 224, 224))
    loss = optim.segmentation_loss(logits, masks, "sum")
    exact = torch.nn.functional.cross_entropy(logits.double(), masks, reduction="sum")
    assert loss.dtype == torch.float32
    assert loss.item() > torch.finfo(torch.float16).max  # why the sum must not be taken in float16
    assert loss.item() == pytest.approx(exact.item(), rel=1e-5)


def test_a_share_of_the_batch_divides_a_mean_by_the_whole_batch():
    logits, masks = torch.randn(4, 2, 8, 8), torch.randint(0, 2, (4, 8, 8))
    whole = optim.segmentation_loss(logits, masks, "mean")
    halves = sum(optim.segmentation_loss(logits[part], masks[part], "mean", pixels=masks.numel())
                 for part in (slice(0, 3), slice(3, 4)))  # uneven shares, as 15 splits over 2 GPUs
    assert halves.item() == pytest.approx(whole.item(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        optim.segmentation_loss(logits, masks, "max")


def test_bf16_autocast_runs_the_network_in_bf16_and_stays_close_to_fp32():
    model, images = _model(), torch.randn(2, 3, 64, 64)
    with acceleration.autocast(torch.device("cpu"), "bf16"):
        fast = model(images)
    with acceleration.autocast(torch.device("cpu"), "fp32"):
        exact = model(images)
    assert fast.dtype == torch.bfloat16 and exact.dtype == torch.float32
    assert (fast.float() - exact).norm() / exact.norm() < 3e-2
    with pytest.raises(ValueError, match="amp must be one of"):
        acceleration.autocast(torch.device("cpu"), "fp16")


def test_channels_last_changes_the_layout_not_the_result():
    model, images = _model(), torch.randn(2, 3, 64, 64)
    expected = model(images)
    model = model.to(memory_format=acceleration.memory_format(True))
    moved = images.contiguous(memory_format=acceleration.memory_format(True))
    assert torch.allclose(model(moved), expected, atol=1e-5)


def _probe(network):
    network(torch.randn(1, 3, 32, 32)).sum().backward()


def test_compiled_model_computes_the_same_function():
    model = _model()
    compiled, ok = acceleration.compile_or_eager(model, _probe, backend="eager")
    images = torch.randn(2, 3, 32, 32)
    assert ok and compiled is not model
    assert torch.allclose(compiled(images), model(images), atol=1e-6)
    assert all(p.grad is None for p in model.parameters())  # the probe's gradients are gone


def test_the_probe_leaves_batch_normalisation_statistics_as_they_were():
    model = models.FCN32s(width=1 / 32, normalisation="batch").train()
    before = {name: buffer.clone() for name, buffer in model.named_buffers()}
    _, ok = acceleration.compile_or_eager(model, _probe, backend="eager")
    assert ok and before
    assert all(torch.equal(buffer, before[name]) for name, buffer in model.named_buffers())
    _probe(model)  # without the restore, this is what the probe would have left behind
    assert not torch.equal(model.trunk.features[1].running_mean, before["trunk.features.1.running_mean"])


def test_compile_modes_are_checked_and_passed_on(monkeypatch):
    asked = []
    monkeypatch.setattr(torch, "compile", lambda model, **options: asked.append(options) or model)
    acceleration.compile_or_eager(_model(), _probe, mode="reduce-overhead")
    acceleration.compile_or_eager(_model(), _probe)
    assert asked == [{"backend": "inductor", "mode": "reduce-overhead"}, {"backend": "inductor"}]
    with pytest.raises(ValueError, match="compile mode must be one of"):
        acceleration.compile_or_eager(_model(), _probe, mode="fastest")


def test_a_failing_compiler_warns_and_leaves_the_model_eager():
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no compiler on this machine")

    model = _model()
    torch.manual_seed(7)
    expected_draw = torch.rand(3)
    torch.manual_seed(7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, ok = acceleration.compile_or_eager(model, _probe, backend=broken_backend)
    assert not ok and result is model
    assert any("training without it" in str(w.message) for w in caught)
    assert torch.equal(torch.rand(3), expected_draw)  # the probe consumed no random numbers
    assert all(p.grad is None for p in model.parameters())


def test_auto_precision_is_bf16_only_where_the_hardware_has_it(monkeypatch):
    cpu = torch.device("cpu")
    assert acceleration.resolve_amp("fp32", cpu) == "fp32" and acceleration.resolve_amp("bf16", cpu) == "bf16"
    monkeypatch.setattr(acceleration, "bf16_is_native", lambda device: False)
    assert acceleration.resolve_amp("auto", cpu) == "fp32"
    with acceleration.autocast(cpu, "auto"):
        assert models.FCN32s(width=1 / 32)(torch.randn(1, 3, 32, 32)).dtype == torch.float32
    monkeypatch.setattr(acceleration, "bf16_is_native", lambda device: True)
    assert acceleration.resolve_amp("auto", cpu) == "bf16"
    with pytest.raises(ValueError, match="amp must be one of"):
        acceleration.resolve_amp("fp16", cpu)
