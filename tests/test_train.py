import json
import time

import pytest
import torch

from fcn_lib import (
    checkpoints,
    config,
    data,
    distributed,
    models,
    optim,
    paths,
    random_convolution,
    scenes,
    stages,
    train,
)


@pytest.fixture
def artifacts(tmp_path, monkeypatch, cache):
    """Checkpoints go to a temporary folder (and the catalogue to the test cache)."""
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / "artifacts" / profile)
    return tmp_path / "artifacts"


def _profile(fcn32s=None, scenes=None, **changes):
    """The smoke profile, smaller still; ``fcn32s`` and ``scenes`` change those stages' schedules."""
    schedules = {name: given for name, given in (("fcn32s", fcn32s), ("scenes", scenes)) if given}
    return config.load_profile("smoke").replace(profile="test", catalog_count=12, catalog_size=64,
                                                image_size=32, schedules=schedules, **changes)


def _twins():
    torch.manual_seed(0)
    first = models.FCN16s(width=1 / 32, dropout=0.0)
    for parameter in first.parameters():  # leave the all-zero score layers, so gradients reach the trunk
        if parameter.requires_grad and parameter.abs().sum() == 0:
            parameter.data.normal_(0, 0.1)
    second = models.FCN16s(width=1 / 32, dropout=0.0)
    second.load_state_dict(first.state_dict())
    return first, second


def test_summed_and_mean_losses_give_identical_updates_with_converted_hyperparameters():
    sum_model, mean_model = _twins()
    images, masks = torch.randn(3, 3, 40, 40), torch.randint(0, 2, (3, 40, 40))
    pixels = masks.numel()
    lr_sum, decay_sum = 1e-6, 5e-4
    lr_mean, decay_mean = optim.equivalent_hyperparameters(lr_sum, decay_sum, pixels, "sum", "mean")
    assert lr_mean == pytest.approx(lr_sum * pixels) and decay_mean == pytest.approx(decay_sum / pixels)
    assert optim.equivalent_hyperparameters(lr_mean, decay_mean, pixels, "mean", "sum") == pytest.approx(
        (lr_sum, decay_sum))
    for model, reduction, lr, decay in [(sum_model, "sum", lr_sum, decay_sum),
                                        (mean_model, "mean", lr_mean, decay_mean)]:
        schedule = optim.Schedule(5, lr, 0, 1.0, 0.99, decay, reduction)
        optimizer = optim.make_optimizer(model, schedule)
        for _ in range(4):
            loss = optim.segmentation_loss(model(images), masks, reduction)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    moved = 0.0
    for (name, a), b in zip(sum_model.named_parameters(), mean_model.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7), name
        moved = max(moved, (a - models.FCN16s(width=1 / 32).state_dict()[name]).abs().max().item())
    assert moved > 0


def test_biases_learn_twice_as_fast_without_decay_and_frozen_layers_are_left_out():
    model = models.FCN8s(width=1 / 32)
    weights, biases = optim.parameter_groups(model, lr=0.1, weight_decay=0.01)
    assert (weights["lr"], weights["weight_decay"]) == (0.1, 0.01)
    assert (biases["lr"], biases["weight_decay"]) == (0.2, 0.0)
    grouped = {id(p) for group in (weights, biases) for p in group["params"]}
    assert grouped == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(id(p) in grouped for name, p in model.named_parameters() if name.startswith("up"))


def test_learning_rate_drops_once():
    schedule = optim.Schedule(10, 1.0, 4, 0.01, 0.9, 0.0, "mean")
    assert [schedule.learning_rate(s) for s in (0, 3, 4, 9)] == [1.0, 1.0, 0.01, 0.01]
    assert optim.Schedule(10, 1.0, 0, 0.01, 0.9, 0.0, "mean").learning_rate(9) == 1.0
    with pytest.raises(ValueError, match="reduction"):
        optim.equivalent_hyperparameters(1, 1, 1, "sum", "median")


def test_cosine_decay_falls_smoothly_to_the_floor():
    schedule = optim.Schedule(100, 1.0, 0, 0.1, 0.9, 0.0, "mean", decay="cosine")
    rates = [schedule.learning_rate(step) for step in range(101)]
    assert rates[0] == 1.0 and rates[50] == pytest.approx(0.55) and rates[100] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    with pytest.raises(ValueError, match="decay"):
        optim.Schedule(10, 1.0, 0, 0.1, 0.9, 0.0, "mean", decay="linear").learning_rate(0)


def test_a_stage_trains_records_history_and_provenance(artifacts):
    profile = _profile()
    path = train.train_stage(profile, "fcn32s_white", progress=False)
    record = checkpoints.load_checkpoint(path, stage="fcn32s_white", arch="fcn32s")
    assert record["complete"] and record["step"] == profile.schedules["fcn32s"].iterations
    assert record["profile"]["profile"] == "test" and record["code_version"]
    history = json.loads((path.parent / "fcn32s_white.history.json").read_text())
    assert [row["step"] for row in history["val"]] == [2, 4]
    assert {"loss", "sneaker_iou", "mean_iu"} <= set(history["val"][-1])


def test_later_stages_grow_from_the_previous_checkpoint_and_insist_on_it(artifacts):
    profile = _profile()
    with pytest.raises(FileNotFoundError, match="train stage fcn32s_white first"):
        train.train_stage(profile, "fcn16s_white", progress=False)
    first = train.train_stage(profile, "fcn32s_white", progress=False)
    second = train.train_stage(profile, "fcn16s_white", progress=False)
    grown = checkpoints.model_from_checkpoint(checkpoints.load_checkpoint(second, arch="fcn16s"))
    trained = checkpoints.model_from_checkpoint(checkpoints.load_checkpoint(first))
    assert not torch.equal(grown.trunk.fc7.weight, trained.trunk.fc7.weight)  # it trained further
    mismatch = "expected stage fcn16s_white, found fcn32s_white"
    with pytest.raises(checkpoints.CheckpointMismatch, match=mismatch):
        train.train_stage(profile, "fcn8s_white", init=first, progress=False)


def test_an_interrupted_run_resumes_to_the_same_weights(artifacts, monkeypatch):
    profile = _profile(fcn32s={"iterations": 6}, val_every=3, dropout=0.3)
    whole = checkpoints.load_checkpoint(train.train_stage(profile, "fcn32s_white", progress=False))

    calls = {"n": 0}
    original = train.segmentation_loss  # the loss the loop's steps take

    def interrupt_at_fifth_step(logits, masks, reduction, pixels=None):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(logits, masks, reduction, pixels)

    monkeypatch.setattr(train, "segmentation_loss", interrupt_at_fifth_step)
    with pytest.raises(KeyboardInterrupt, match=r"saved step 4 to .*fcn32s_white\.pt; continue with"):
        train.train_stage(profile, "fcn32s_white", progress=False)
    monkeypatch.setattr(train, "segmentation_loss", original)
    saved = checkpoints.load_checkpoint(checkpoints.checkpoint_path(profile, "fcn32s_white"))
    assert saved["step"] == 4 and not saved["complete"]
    resumed = checkpoints.load_checkpoint(train.train_stage(profile, "fcn32s_white", resume=True,
                                                            progress=False))
    assert resumed["step"] == 6 and resumed["complete"]
    for name, tensor in whole["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][name]), name


def test_a_checkpoint_holds_its_own_steps_state_while_training_goes_on(artifacts, monkeypatch):
    profile = _profile(fcn32s={"iterations": 6}, val_every=3)
    shorter = profile.replace(schedules={"fcn32s": {"iterations": 3}})
    at_three = checkpoints.load_checkpoint(train.train_stage(shorter, "fcn32s_white", progress=False))
    written, original = [], checkpoints.save_with_history

    def slow_write(path, record):
        time.sleep(0.5)  # the loop meanwhile trains steps 4 to 6, changing its weights in place
        original(path, record)
        written.append(checkpoints.load_checkpoint(path))

    monkeypatch.setattr(checkpoints, "save_with_history", slow_write)
    train.train_stage(profile, "fcn32s_white", progress=False)
    assert [record["step"] for record in written] == [3, 6]
    for name, tensor in at_three["state_dict"].items():
        assert torch.equal(tensor, written[0]["state_dict"][name]), name
    assert not all(torch.equal(tensor, written[1]["state_dict"][name])
                   for name, tensor in at_three["state_dict"].items())
    history = json.loads((artifacts / "test" / "fcn32s_white.history.json").read_text())
    assert [entry["step"] for entry in history["val"]] == [3, 6]  # the last write is done on return


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(artifacts):
    # Without batch normalisation: with it, even this learning rate can leave the loss finite.
    profile = _profile(fcn32s={"iterations": 30, "lr": 1.0e6, "lr_drop": 0}, val_every=1,
                       normalisation="none")
    with pytest.raises(train.TrainingDiverged, match="became (nan|inf|non-finite)"):
        train.train_stage(profile, "fcn32s_white", progress=False)
    kept = checkpoints.load_checkpoint(checkpoints.checkpoint_path(profile, "fcn32s_white"))
    assert all(torch.isfinite(t).all() for t in kept["state_dict"].values())


def test_a_checkpoint_written_before_normalisation_existed_rebuilds_the_plain_trunk():
    model = _twins()[0]
    description = model.describe()
    del description["normalisation"]  # what checkpoints recorded before the setting
    rebuilt = checkpoints.model_from_checkpoint({"model": description, "state_dict": model.state_dict()})
    assert rebuilt.trunk.normalisation == "none"
    assert all(torch.equal(t, model.state_dict()[k]) for k, t in rebuilt.state_dict().items())


def test_bad_checkpoints_are_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoints.CheckpointMismatch, match=r"junk\.pt: not a readable checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(checkpoints.CheckpointMismatch, match="not an FCN Sneakers checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        checkpoints.load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="unknown stage"):
        train.train_stage(_profile(), "fcn4s_white")


def test_scene_stages_continue_from_white_or_start_from_the_backbone(artifacts):
    profile = _profile(scenes={"iterations": 2}, composites_val=4)
    with pytest.raises(FileNotFoundError, match="train stage fcn8s_white first"):
        train.train_stage(profile, "fcn8s_background", progress=False)
    scratch = checkpoints.load_checkpoint(train.train_stage(profile, "fcn8s_background_scratch",
                                                            progress=False))
    assert scratch["step"] == 2 and "boundary_f" in scratch["history"]["val"][-1]
    for stage in ("fcn32s_white", "fcn16s_white", "fcn8s_white"):
        train.train_stage(profile, stage, progress=False)
    white = checkpoints.load_checkpoint(checkpoints.checkpoint_path(profile, "fcn8s_white"))
    model = train.initial_model(profile, stages.STAGES["fcn8s_background"], None)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in white["state_dict"].items())


def test_only_scene_batches_go_through_random_convolutions_drawn_by_step(artifacts, monkeypatch):
    calls, original = [], train.random_convolution

    def recorded(images, share, generator):
        calls.append((share, generator.get_state()))
        return original(images, share, generator)

    monkeypatch.setattr(train, "random_convolution", recorded)
    profile = _profile(fcn32s={"iterations": 2}, scenes={"iterations": 2}, composites_val=4,
                       random_convolution=0.4)
    train.train_stage(profile, "fcn32s_white", progress=False)
    assert calls == []  # the white stage learns the catalogue as it is
    train.train_stage(profile, "fcn8s_background_scratch", progress=False)
    assert [share for share, _ in calls] == [0.4, 0.4]
    # Keyed on the step, so a resumed run filters its batches exactly as an unbroken one.
    for step, (_, state) in enumerate(calls):
        assert torch.equal(state, random_convolution.step_generator(profile.seed, step).get_state())
    calls.clear()
    train.train_stage(profile.replace(profile="off", random_convolution=0.0), "fcn8s_background_scratch",
                      progress=False)
    assert calls == []


def test_scene_training_and_validation_share_no_sneaker_or_scene(cache):
    training, validation = stages.scene_datasets(_profile(composites_val=4))
    assert not {c.name for c in training.cutouts} & {c.name for c in validation.cutouts}
    real_validation = {a.tobytes() for a in validation.scenes}
    assert not any(a.tobytes() in real_validation for a in training.scenes)
    assert len(training.scenes) > len(validation.scenes)  # procedural clutter joins the training photos


def test_only_the_scene_stage_puts_photos_on_plain_backdrops(cache):
    profile = _profile(white_share=0.5, plain_backdrops=0.8)
    scene_stage, _ = stages.stage_datasets(profile, stages.STAGES["fcn8s_background"])
    white, _ = stages.stage_datasets(profile, stages.STAGES["fcn8s_white"])
    assert isinstance(scene_stage, data.MixedTraining) and scene_stage.first.backdrops == 0.8
    assert white.backdrops == 0.0


def test_optimizer_choice(tmp_path):
    model = models.FCN32s(width=1 / 32)
    adam = optim.make_optimizer(model, optim.Schedule(1, 1e-3, 0, 1.0, 0.9, 0.0, "mean", "adam"))
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[1]["lr"] == 2e-3
    with pytest.raises(ValueError, match="optimizer"):
        optim.make_optimizer(model, optim.Schedule(1, 1e-3, 0, 1.0, 0.9, 0.0, "mean", "lbfgs"))


def test_the_gpu_settings_train_on_the_cpu_too(artifacts, monkeypatch):
    """bf16 autocast, channels_last and torch.compile (with the quick `eager` backend) make a run that
    learns and saves plain weights that load into a plain network."""
    compiled = []
    real_compile = torch.compile

    def quick_compile(model, backend="inductor", **options):
        compiled.append((backend, options))
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", quick_compile)
    profile = _profile(fcn32s={"iterations": 6}, val_every=3, amp="bf16", channels_last=True, compile=True,
                       compile_mode="reduce-overhead")
    record = checkpoints.load_checkpoint(train.train_stage(profile, "fcn32s_white", progress=False))
    assert compiled == [("inductor", {"mode": "reduce-overhead"})]
    assert record["complete"] and record["amp"] == "bf16"
    model = checkpoints.model_from_checkpoint(record)  # no `_orig_mod.` or `module.` prefixes
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())
    losses = [entry["loss"] for entry in record["history"]["train"]]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("kind", optim.OPTIMIZERS)
def test_an_optimiser_saved_with_another_update_kernel_continues_with_this_ones(kind):
    model = models.FCN32s(width=1 / 32)
    schedule = optim.Schedule(5, 1e-3, 0, 1.0, 0.9, 5e-4, "mean", kind)
    saved = optim.make_optimizer(model, schedule).state_dict()
    for group in saved["param_groups"]:  # what a checkpoint of an unfused run holds
        group.update(fused=None, foreach=True)
    optimizer = optim.make_optimizer(model, schedule)
    optim.load_optimizer_state(optimizer, saved)
    assert all(group["fused"] and not group["foreach"] for group in optimizer.param_groups)
    model(torch.randn(1, 3, 32, 32)).sum().backward()
    optimizer.step()


def test_logged_speed_includes_waiting_for_the_device(artifacts, monkeypatch):
    """On a GPU the loop runs ahead and waits once per log line, when it reads the loss; that wait is
    training time. Here reading the summed loss takes a known 0.2 s, so no window can be faster."""
    wait = 0.2

    class SlowDevice(distributed.World):
        def sum(self, tensor):
            time.sleep(wait)
            return tensor

    monkeypatch.setattr(distributed, "join", lambda device_type="cpu": SlowDevice())
    profile = _profile(fcn32s={"iterations": 4}, val_every=4)
    record = checkpoints.load_checkpoint(train.train_stage(profile, "fcn32s_white", progress=False))
    steps_per_window = max(1, profile.schedules["fcn32s"].iterations // 200)
    assert all(entry["images_per_s"] <= steps_per_window * profile.batch_size / wait
               for entry in record["history"]["train"])


def test_training_draws_photographs_about_half_the_time_and_validation_never_draws_clutter(cache):
    profile = _profile(procedural_scenes=60)
    pool, photographs = stages.scene_pool(profile, "train")
    assert 0.4 <= photographs / len(pool) <= 0.6 and len(pool) - photographs == 60
    assert all(scene.shape[0] == 2 * profile.image_size for scene in pool[photographs:])  # the clutter
    validation, count = stages.scene_pool(profile, "val")
    photos = scenes.scenes_for(profile.backgrounds, "val", profile.val_fraction)
    assert count == len(validation) == len(photos)
