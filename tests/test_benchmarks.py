"""The benchmarks beside the package: each prints JSON whose figures hang together."""

import json
import subprocess
import sys

import pytest
import torch

from benchmarks.__main__ import build_parser, main, schedule_overrides
from fcn_lib import config, models, paths


def test_bench_composite_prints_json_as_a_module(cache):
    command = [sys.executable, "-m", "benchmarks", "composite", "--size", "64", "--count", "20"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=paths.repo_root())
    assert list(cache.glob("scenes-*")), "the benchmark's scene cache went to FCN_SNEAKERS_CACHE"
    figures = json.loads(result.stdout)
    assert figures["composites_per_s"] > 0 and figures["per_core"] == figures["composites_per_s"]


def test_bench_model_compares_layouts_in_one_run(capsys):
    assert main(["model", "--arch", "fcn8s", "--size", "64", "--width", "0.0625",
                 "--rounds", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["layouts"]) == {"aligned", "caffe"}
    assert figures["aligned_over_caffe"] > 0 and figures["layouts"]["caffe"]["peak_memory_mb"] > 0


def test_bench_train_measures_every_precision_and_layout_side_by_side(capsys):
    assert main(["train", "--size", "64", "--batch", "2", "--width", "0.0625", "--amp", "bf16,fp32",
                 "--layout", "aligned,caffe", "--steps", "1", "--rounds", "1", "--device", "cpu"]) == 0
    figures = json.loads(capsys.readouterr().out)
    runs = {(run["layout"], run["amp"]): run for run in figures["runs"]}
    assert set(runs) == {("aligned", "bf16"), ("aligned", "fp32"), ("caffe", "bf16"), ("caffe", "fp32")}
    assert runs[("aligned", "bf16")]["speedup"] == 1.0 and figures["runs"][0]["amp"] == "bf16"
    for layout in ("aligned", "caffe"):  # precision changes the speed, not the work
        assert runs[(layout, "bf16")]["gflop_per_image"] == runs[(layout, "fp32")]["gflop_per_image"] > 0
    for run in figures["runs"]:  # the update is a part of the step
        update, step = run["update_s"], run["step_s"]
        assert 0 < update < step
        # The share is worked out before the times are rounded to 1e-5 s and is itself rounded to 1e-3:
        # the bound is what those roundings allow (at sub-millisecond updates, more than 1e-3).
        rounding = update / step * (0.5e-5 / update + 0.5e-5 / step) + 0.5e-3
        assert run["update_share"] == pytest.approx(update / step, abs=rounding + 1e-9)
    # the caffe layout's 100-pixel padding makes far more work than the image has
    assert runs[("caffe", "fp32")]["gflop_per_image"] > 2 * runs[("aligned", "fp32")]["gflop_per_image"]
    if figures["cpu"]["peak_gflop_per_s"]:  # no float32 step beats the cores' nominal float32 peak
        assert all(0 <= run["share_of_peak"] < 1 for run in figures["runs"] if run["amp"] == "fp32")
        assert all("share_of_peak" not in run for run in figures["runs"] if run["amp"] == "bf16")


def test_bench_train_times_the_cpu_profiles_network_and_adam_update_too(capsys, monkeypatch):
    built, original = [], models.build

    def build(*args, **kwargs):
        built.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(models, "build", build)
    assert main(["train", "--size", "32", "--batch", "2", "--width", "0.0625", "--amp", "fp32", "--steps",
                 "1", "--rounds", "1", "--device", "cpu", "--optimizer", "adam",
                 "--normalisation", "batch"]) == 0
    figures = json.loads(capsys.readouterr().out)
    (run,) = figures["runs"]
    assert figures["optimizer"] == "adam" and 0 < run["update_s"] < run["step_s"]
    assert figures["normalisation"] == "batch" and built[0]["normalisation"] == "batch"


def test_bench_layers_accounts_for_every_convolution_of_the_step(capsys):
    assert main(["layers", "--size", "64", "--batch", "2", "--width", "0.0625", "--amp", "fp32",
                 "--steps", "1", "--rounds", "1", "--device", "cpu"]) == 0
    figures = json.loads(capsys.readouterr().out)
    layers = {layer["layer"]: layer for layer in figures["layers"]}
    assert {"trunk.features.0", "trunk.fc6", "trunk.fc7", "score_pool3", "up_final"} <= set(layers)
    assert len(layers) == 13 + 2 + 3 + 3  # VGG-16's convolutions, fc6, fc7, three scores, three upsamplings
    # Each convolution is timed on its own, and between them they do all of the step's arithmetic.
    assert figures["convolutions_gflop"] == figures["step_gflop"] > 0
    assert all(layer["ms"] > 0 for layer in figures["layers"])
    assert layers["trunk.features.2"]["input"] == [2, 4, 64, 64] and layers["trunk.fc6"]["kernel"] == [7, 7]
    assert figures["fc6_as_matrix_product"]["gflop"] == layers["trunk.fc6"]["gflop"]  # the same work


@pytest.mark.parametrize("padding", [3, 0])  # fc6 in the aligned and in the caffe layout
@pytest.mark.parametrize("memory_format", [torch.channels_last, torch.contiguous_format])
def test_a_convolution_as_a_matrix_product_gives_the_same_values_and_gradients(padding, memory_format):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, 7, padding=padding).double().to(memory_format=memory_format)
    def product(x):
        return models.as_matrix_product(x, conv)
    image = torch.randn(2, 6, 9, 8, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    image.requires_grad_(True)
    gradients = []
    for forward in (conv, product):
        conv.zero_grad(set_to_none=True)
        image.grad = None
        output = forward(image)
        output.backward(torch.ones_like(output))
        gradients.append((output.detach(), image.grad, conv.weight.grad, conv.bias.grad))
    for convolved, multiplied in zip(*gradients, strict=True):  # output, then the three gradients
        assert convolved.shape == multiplied.shape and torch.allclose(convolved, multiplied)


def test_bench_loader_measures_the_data_path_alone(cache, capsys):
    assert main(["loader", "--profile", "smoke", "--stage", "fcn8s_background", "--steps", "3",
                 "--workers", "0", "--device", "cpu"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["steps"] == 3 and figures["images_per_s"] > 0 and figures["workers"] == 0


def test_bench_schedule_shortens_every_stage_and_projects_the_whole(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(paths.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    assert main(["schedule", "--profile", "smoke", "--fraction", "0.5", "--compile-off"]) == 0
    report = json.loads(capsys.readouterr().out)
    smoke = config.load_profile("smoke")
    assert [stage["stage"] for stage in report["stages"]] == ["fcn32s_white", "fcn16s_white", "fcn8s_white",
                                                              "fcn8s_background"]
    assert report["stages"][0]["steps"] == round(smoke.schedules["fcn32s"].iterations * 0.5)
    for stage in report["stages"]:  # validated and checkpointed as often as the full run, not projected
        assert stage["validations"] == stage["full_validations"] >= 1
        assert 0 < stage["setup_s"] < stage["wall_s"]
    assert (tmp_path / "artifacts" / "smoke-0.5" / "fcn8s_background.pt").is_file()
    assert report["projected_full_s"] > report["wall_s"]  # the other half of the steps is still to come


def test_bench_checkpoint_compares_writing_in_place_with_the_background_writer(tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.setenv(paths.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    assert main(["checkpoint", "--width", "0.0625", "--rounds", "1", "--device", "cpu"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["checkpoint_mb"] > 0 and figures["in_place_s"] > 0 and figures["background_pause_s"] > 0
    assert figures["background_write_s"] >= figures["background_pause_s"]
    assert not any((tmp_path / "artifacts").iterdir())  # its temporary checkpoint is gone


def test_bench_schedule_takes_a_compile_mode():
    parser = build_parser()
    asked = [schedule_overrides(parser.parse_args(["schedule", *flags]))
             for flags in (["--compile", "reduce-overhead", "--backbone", "none"], ["--compile-off"], [])]
    assert asked == [{"backbone_weights": "none", "compile": True, "compile_mode": "reduce-overhead"},
                     {"compile": False}, {}]
    with pytest.raises(SystemExit):  # one or the other
        parser.parse_args(["schedule", "--compile", "default", "--compile-off"])


def test_the_gpu_check_can_run_the_full_profile_on_the_embedded_data():
    """The full profile names real data; the GPU machine has no internet, so the check says so."""
    args = build_parser().parse_args(["schedule", "--embedded-data"])
    assert schedule_overrides(args) == {"sneakers": "embedded", "backgrounds": "embedded"}
    assert config.load_profile("full", **schedule_overrides(args)).sneakers == "embedded"
    gpu_check = (paths.repo_root() / ".ci" / "gpu-check").read_text()
    assert gpu_check.count("--profile full --embedded-data") == 2


def test_bench_random_convolution_times_the_filter_beside_the_step_it_is_added_to(capsys):
    assert main(["random-convolution", "--size", "32", "--batch", "4", "--width", "0.0625", "--steps", "2",
                 "--rounds", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["filter_s"] > 0 and figures["step_s"] > 0
    assert figures["filter_over_step"] == pytest.approx(figures["filter_s"] / figures["step_s"], rel=0.05)
    assert figures["share"] == 0.5 and figures["isa"]
