import json

import numpy as np
from PIL import Image

from fcn_lib import paths
from fcn_lib.cli import main


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
