"""Every kind of bad input, for each command that reads photos: one line naming the file and the
reason, the good files done, nothing overwritten, and the exit code a script can act on."""

import errno
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_lib import images
from fcn_lib.cli import main
from tests.test_images import _png_header


def _bomb(path: Path) -> None:
    """A 1-bit PNG whose header claims 30000 x 30000 pixels, in a few hundred bytes."""
    path.write_bytes(_png_header(30000, 30000))


def _truncated(path: Path) -> None:
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(path.with_suffix(".tmp.jpg"))
    data = path.with_suffix(".tmp.jpg").read_bytes()
    path.with_suffix(".tmp.jpg").unlink()
    path.write_bytes(data[: len(data) // 3])


# kind: (file name, how to make it, what the line says)
BAD_FILES = {
    "truncated": ("cut.jpg", _truncated, "corrupt or truncated"),
    "zero bytes": ("empty.jpg", lambda p: p.write_bytes(b""), "not an image file"),
    "text as JPEG": ("notes.jpg", lambda p: p.write_text("hello"), "not an image file"),
    "1x1": ("dot.png", lambda p: Image.new("RGB", (1, 1)).save(p), "1x1 is too small"),
    "bomb": ("bomb.png", _bomb, "decompression bomb"),
    "broken link": ("gone.jpg", lambda p: p.symlink_to(p.parent / "deleted.jpg"), "broken link"),
}


@pytest.fixture
def folder(tmp_path, rendered) -> Path:
    """Two good catalogue photos, as PNG and JPEG."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(rendered[0][0]).save(photos / "good0.png")
    Image.fromarray(rendered[0][1]).save(photos / "good1.jpg", quality=95)
    return photos


def _lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if name in line]


@pytest.mark.parametrize("command", ["segment", "masks"])
@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_named_with_its_reason_and_the_good_ones_are_done(tmp_path, folder, checkpoint, capsys,
                                                                       command, kind):
    name, make, reason = BAD_FILES[kind]
    make(folder / name)
    out = tmp_path / "out"
    argv = (["segment", "--checkpoint", str(checkpoint), str(folder)] if command == "segment"
            else ["masks", str(folder)]) + ["--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    (line,) = _lines(err, name)
    assert line.startswith("skipped: ") and reason in line
    assert (out / "good0.png").is_file() and (out / "good1.png").is_file()
    assert not (out / f"{Path(name).stem}.png").exists()
    assert re.match(r"2 (images segmented|masks written) .*; 1 (files )?skipped", err.splitlines()[-1])


def test_segment_keeps_both_results_when_two_inputs_share_a_name(tmp_path, folder, checkpoint, capsys):
    (folder / "sub").mkdir()
    flipped = np.asarray(Image.open(folder / "good0.png"))[:, ::-1]
    Image.fromarray(np.ascontiguousarray(flipped)).save(folder / "sub" / "good0.jpg", quality=95)
    Image.open(folder / "good1.jpg").save(folder / "good1.PNG")  # the same name up to case and suffix
    out = tmp_path / "out"
    argv = ["segment", "--checkpoint", str(checkpoint), "--out", str(out), str(folder), str(folder / "sub")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "good0-2.cutout.png", "good0-2.png", "good0.cutout.png", "good0.png",
        "good1-2.cutout.png", "good1-2.png", "good1.cutout.png", "good1.png"]
    assert "sub/good0.jpg: another input is also named good0" in err and "4 images segmented" in err
    cutouts = [np.asarray(Image.open(out / f"good0{n}.cutout.png"))[..., :3] for n in ("", "-2")]
    assert np.abs(cutouts[1].astype(int) - cutouts[0][:, ::-1]).mean() < 3  # each is its own photo's
    assert main(argv) == 0  # a rerun names them alike
    assert len(list(out.iterdir())) == 8


def test_masks_refuses_a_second_photo_of_the_same_name_and_keeps_the_first(tmp_path, folder, capsys):
    Image.open(folder / "good1.jpg").save(folder / "good1.png")
    out = tmp_path / "out"
    assert main(["masks", str(folder), "--out", str(out)]) == 1
    (line,) = _lines(capsys.readouterr().err, "good1.png")
    assert "same name as" in line and "good1.jpg" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["written"] == 2 and [f["file"] for f in summary["failed"]] == [str(folder / "good1.png")]


def test_a_very_large_photo_is_segmented_reduced_with_a_note(tmp_path, folder, checkpoint, capsys,
                                                             monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 60_000)  # 224 x 224 photos pass; a 400 x 300 one is large
    Image.fromarray(np.full((300, 400, 3), 240, np.uint8)).save(folder / "large.jpg")
    out = tmp_path / "out"
    assert main(["segment", "--checkpoint", str(checkpoint), "--out", str(out), str(folder)]) == 0
    (line,) = _lines(capsys.readouterr().err, "large.jpg")
    assert "decoded at 1/2 size a side; its mask and cut-out are 200x150" in line
    assert np.asarray(Image.open(out / "large.png")).shape == (150, 200)


@pytest.mark.parametrize("command", ["segment", "masks"])
def test_a_disk_that_fills_stops_the_run_with_the_file_named_and_earlier_results_whole(
        tmp_path, folder, checkpoint, capsys, monkeypatch, command):
    from fcn_lib import atomic

    real_write, calls = atomic.atomic_write_bytes, []

    def fill_at_the_second(destination, data):
        calls.append(destination)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(destination, data)

    monkeypatch.setattr(images, "atomic_write_bytes", fill_at_the_second)
    out = tmp_path / "out"
    argv = (["segment", "--checkpoint", str(checkpoint), str(folder)] if command == "segment"
            else ["masks", str(folder)]) + ["--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"error: cannot write {calls[1]}: No space left on device" in err
    assert [p.name for p in out.iterdir()] == [Path(calls[0]).name]  # whole, and no half-written file
    assert np.asarray(Image.open(calls[0])).shape == (224, 224)


@pytest.fixture
def scored(tmp_path, folder):
    """The two photos with right-half reference masks, 0/255."""
    masks = tmp_path / "masks"
    masks.mkdir()
    half = np.zeros((224, 224), np.uint8)
    half[:, 112:] = 255
    for stem in ("good0", "good1"):
        Image.fromarray(half).save(masks / f"{stem}.png")
    return folder, masks, half


def _evaluate(checkpoint, images_dir, masks_dir, capsys):
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--images", str(images_dir),
                 "--masks", str(masks_dir)])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out else None), captured.err


def test_evaluate_reads_0_1_and_rgb_masks_as_the_same_masks(scored, checkpoint, capsys):
    folder, masks, half = scored
    _, reference, _ = _evaluate(checkpoint, folder, masks, capsys)
    Image.fromarray(half // 255).save(masks / "good0.png")  # 0/1: looks black
    Image.fromarray(np.dstack([half, half // 2, half * 0])).save(masks / "good1.png")  # orange on black
    code, again, _ = _evaluate(checkpoint, folder, masks, capsys)
    assert code == 0 and again["images"] == 2 and again["sneaker_iou"] == reference["sneaker_iou"]


@pytest.mark.parametrize("kind", ["missing", "other size"])
def test_evaluate_names_a_photo_whose_mask_is_missing_or_of_another_size(scored, checkpoint, capsys, kind):
    folder, masks, half = scored
    if kind == "missing":
        (masks / "good1.png").unlink()
    else:
        Image.fromarray(half[:100]).save(masks / "good1.png")
    code, scores, err = _evaluate(checkpoint, folder, masks, capsys)
    reason = "no reference mask (looked for" if kind == "missing" else "mask is 224x100, its photo is 224x224"
    assert code == 1 and scores["images"] == 1
    (line,) = scores["failed"]
    assert "good1" in line and reason in line and _lines(err, "good1")


def test_evaluate_on_an_empty_or_missing_folder_is_an_error(tmp_path, scored, checkpoint, capsys):
    folder, masks, _ = scored
    (tmp_path / "empty").mkdir()
    code, scores, err = _evaluate(checkpoint, tmp_path / "empty", masks, capsys)
    assert (code, scores) == (2, None) and "empty: no images to evaluate on" in err
    code, scores, err = _evaluate(checkpoint, folder, tmp_path / "nowhere", capsys)
    assert (code, scores) == (2, None) and "nowhere: no such folder" in err
