import errno
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fcn_lib import checkpoints, paths
from fcn_lib.cli import main
from tests.test_locks import _holder


def test_masks_command_writes_good_masks_and_lists_bad_files(tmp_path, photo_folder):
    (photo_folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    Image.fromarray(np.full((30, 30, 3), 30, np.uint8)).save(photo_folder / "dark.png")
    out = tmp_path / "masks"
    assert main(["masks", str(photo_folder), "--out", str(out)]) == 1
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == [f"shoe{i}.png" for i in range(6)]
    mask = np.asarray(Image.open(out / "shoe0.png"))
    assert mask.shape == (224, 224) and set(np.unique(mask)) == {0, 255}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["written"] == 6 and sorted(f["file"].rsplit("/", 1)[1] for f in summary["failed"]) == [
        "corrupt.jpg", "dark.png"]


def test_masks_command_succeeds_on_clean_input_and_takes_a_method(tmp_path, photo_folder):
    assert main(["masks", str(photo_folder), "--out", str(tmp_path / "m"), "--method", "seed"]) == 0
    assert len(list((tmp_path / "m").glob("*.png"))) == 6


def test_catalog_command_writes_the_layout(tmp_path):
    assert main(["catalog", "--out", str(tmp_path / "cat"), "--count", "3", "--size", "64",
                 "--workers", "1"]) == 0
    assert len(list((tmp_path / "cat" / "images").glob("*.jpg"))) == 3
    assert json.loads((tmp_path / "cat" / "catalog.json").read_text())["count"] == 3


def test_train_command_runs_a_stage_and_reports_a_missing_previous_stage(tmp_path, monkeypatch, cache,
                                                                          capsys):

    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    profile = tmp_path / "tiny.yaml"
    smoke = (paths.profiles_dir() / "smoke.yaml").read_text()
    profile.write_text(smoke.replace("catalog_count: 24", "catalog_count: 8"))
    assert main(["train", "--profile", str(profile), "--stage", "fcn16s_white"]) == 2
    assert "train stage fcn32s_white first" in capsys.readouterr().err
    assert main(["train", "--profile", str(profile), "--stage", "fcn32s_white"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["step"] == 4 and 0 <= report["sneaker_iou"] <= 1
    assert (tmp_path / "smoke" / "fcn32s_white.pt").is_file()


def test_a_missing_folder_or_profile_is_a_message_and_exit_code_2(tmp_path, capsys):
    assert main(["masks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
    assert main(["train", "--profile", "no-such-profile", "--stage", "fcn32s_white"]) == 2
    assert "available:" in capsys.readouterr().err


@pytest.fixture
def tiny_profile(tmp_path, monkeypatch, cache):
    """The smoke profile on 8 catalogue photos, checkpointing at steps 2 and 4, into tmp_path/smoke."""
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    profile = tmp_path / "tiny.yaml"
    profile.write_text((paths.profiles_dir() / "smoke.yaml").read_text().replace("catalog_count: 24",
                                                                                  "catalog_count: 8"))
    return profile


def test_a_second_train_of_the_same_stage_is_refused_naming_the_first(tiny_profile, tmp_path, capsys):
    holder = _holder(tmp_path / "smoke" / "fcn32s_white.pt")
    try:
        assert main(["train", "--profile", str(tiny_profile), "--stage", "fcn32s_white"]) == 2
        assert f"another run (pid {holder.pid}) is training it" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "smoke" / "fcn32s_white.pt").exists()
    assert main(["train", "--profile", str(tiny_profile), "--stage", "fcn32s_white"]) == 0


def test_a_disk_that_fills_during_a_checkpoint_keeps_the_previous_one(tiny_profile, tmp_path, monkeypatch,
                                                                      capsys):
    saved = []

    def fill_the_disk_at_the_second(record, file, *args, **kwargs):
        if saved:
            file.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(record["step"])
        return torch_save(record, file, *args, **kwargs)

    torch_save = checkpoints.torch.save
    monkeypatch.setattr(checkpoints.torch, "save", fill_the_disk_at_the_second)
    assert main(["train", "--profile", str(tiny_profile), "--stage", "fcn32s_white"]) == 1
    error = capsys.readouterr().err
    assert "No space left on device" in error and "the last checkpoint written before it is intact" in error
    path = tmp_path / "smoke" / "fcn32s_white.pt"
    assert checkpoints.load_checkpoint(path)["step"] == saved[0] == 2
    assert sorted(p.name for p in path.parent.iterdir()) == [
        ".fcn32s_white.pt.lock", "fcn32s_white.history.json", "fcn32s_white.pt"]  # no half-written file
    monkeypatch.setattr(checkpoints.torch, "save", torch_save)
    assert main(["train", "--profile", str(tiny_profile), "--stage", "fcn32s_white", "--resume"]) == 0
    assert checkpoints.load_checkpoint(path)["step"] == 4


def test_version_help_and_execute_start_without_importing_torch():
    code = ("import sys, contextlib, io\n"
            "from fcn_lib import cli, execute\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    for argv in (['--version'], ['--help'], ['train', '--help']):\n"
            "        try:\n"
            "            cli.main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print('torch' in sys.modules, 'fcn-sneakers 0.' in out.getvalue())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("command", ["masks", "segment", "train"])
def test_ctrl_c_is_exit_130_and_one_line_in_every_command(tmp_path, checkpoint, monkeypatch, capsys, command):
    from fcn_lib import images, masks, train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(images, "load_photo", interrupted)
    monkeypatch.setattr(masks, "load_photo", interrupted)
    monkeypatch.setattr(train, "train_stage", interrupted)
    Image.new("RGB", (64, 64), "white").save(tmp_path / "a.png")
    argv = {"masks": ["masks", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")],
            "segment": ["segment", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                        str(tmp_path / "a.png")],
            "train": ["train", "--profile", "smoke", "--stage", "fcn32s_white"]}[command]
    assert main(argv) == 130
    err = capsys.readouterr().err  # a progress bar may stand before it, a traceback may not
    assert err.splitlines()[-1] == f"interrupted: fcn-sneakers {command} stopped" and "Traceback" not in err


def test_an_unknown_stage_lists_the_stages_and_locks_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    assert main(["train", "--profile", "smoke", "--stage", "fcn4s"]) == 2
    assert "unknown stage 'fcn4s'; choose one of fcn32s_white" in capsys.readouterr().err
    assert not (tmp_path / "smoke").exists()
