import os
import subprocess
import sys

import pytest
import torch
import yaml

from fcn_lib import checkpoints, config, data, distributed, models, paths


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shares_of_a_batch_cover_it_once_and_differ_by_at_most_one(size):
    for count in range(0, 20):
        shares = [distributed.World(rank, size).share(count) for rank in range(size)]
        assert [i for share in shares for i in share] == list(range(count))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_validation_shards_cover_every_item_exactly_once():
    shards = [list(data.Shard(11, rank, 3)) for rank in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(11))


def test_one_process_is_the_main_one_and_sums_nothing():
    world = distributed.join()
    assert world == distributed.ALONE and world.is_main and not world.active
    assert world.sum(torch.ones(2)).tolist() == [1.0, 1.0]


def _write_profile(folder, iterations):
    """A tiny profile with SGD on a summed loss (Adam would hide a wrongly scaled gradient), a batch of
    5 that two processes split 3 + 2, no dropout (each process draws its own masks) and no batch
    normalisation (on CPUs each process normalises by its own share of the batch)."""
    profile = config.load_profile("smoke").replace(
        profile="ddp", catalog_count=12, catalog_size=64, image_size=32, width=1 / 32, dropout=0.0,
        normalisation="none",
        optimizer="sgd", loss_reduction="sum", momentum=0.9, batch_size=5, val_every=2,
        schedules={"fcn32s": {"iterations": iterations, "lr": 2.0e-5}})
    path = folder / f"ddp{iterations}.yaml"
    path.write_text(yaml.safe_dump(profile.to_dict()))
    return path


def _run(args, environment, processes=1):
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable])
    done = subprocess.run([*launcher, "-m", "fcn_lib", "train", "--stage", "fcn32s_white", *args],
                          env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [line for line in done.stdout.splitlines() if line.startswith('{"checkpoint"')]
    assert len(reports) == 1, done.stdout  # the first process reports; the others stay quiet
    return checkpoints.load_checkpoint(paths.artifacts_dir("ddp").parent / "ddp" / "fcn32s_white.pt")


@pytest.fixture
def environment(tmp_path, monkeypatch, cache):
    monkeypatch.setenv(paths.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _assert_same_run(first, second):
    for a, b in zip(first["history"]["train"], second["history"]["train"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    for a, b in zip(first["history"]["val"], second["history"]["val"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4) and a["images"] == b["images"]
    for name, tensor in first["state_dict"].items():
        assert torch.allclose(tensor, second["state_dict"][name], rtol=1e-4, atol=1e-6), name


def test_torchrun_with_two_processes_follows_the_one_process_trajectory(tmp_path, environment):
    profile = _write_profile(tmp_path, iterations=4)
    alone = _run(["--profile", str(profile)], environment)
    (paths.artifacts_dir("ddp") / "fcn32s_white.pt").unlink()
    shared = _run(["--profile", str(profile)], environment, processes=2)
    assert (alone["world_size"], shared["world_size"]) == (1, 2)
    losses = [entry["loss"] for entry in alone["history"]["train"]]
    assert len(losses) == 4 and losses[-1] != losses[0]  # it learned, so the comparison means something
    _assert_same_run(alone, shared)
    assert shared["history"]["val"][-1]["images"] == alone["history"]["val"][-1]["images"] >= 2  # 2 shards

    # Resume across world sizes: two processes stop at step 2, one process finishes.
    (paths.artifacts_dir("ddp") / "fcn32s_white.pt").unlink()
    _run(["--profile", str(_write_profile(tmp_path, iterations=2))], environment, processes=2)
    resumed = _run(["--profile", str(profile), "--resume"], environment)
    assert resumed["step"] == 4
    for name, tensor in alone["state_dict"].items():
        assert torch.allclose(tensor, resumed["state_dict"][name], rtol=1e-4, atol=1e-6), name


def test_batch_normalisation_is_synchronised_on_gpus_and_warned_about_on_cpus():
    plain = models.FCN32s(width=1 / 32)
    assert distributed.synchronise_batch_norm(plain, torch.device("cpu")) is plain
    model = models.FCN32s(width=1 / 32, normalisation="batch")
    keys = list(model.state_dict())
    with pytest.warns(RuntimeWarning, match="does not follow the one-process trajectory"):
        assert distributed.synchronise_batch_norm(model, torch.device("cpu")) is model
    synchronised = distributed.synchronise_batch_norm(model, torch.device("cuda"))  # converting needs no GPU
    norms = [m for m in synchronised.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 13 and all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert list(synchronised.state_dict()) == keys  # its checkpoints load into a one-process network
