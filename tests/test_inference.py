import json

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_lib import inference, metrics, models, train
from fcn_lib.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small FCN-8s with non-zero scores, saved as a checkpoint of a 32-pixel profile."""
    torch.manual_seed(0)
    model = models.FCN8s(width=1 / 32, dropout=0.0)
    for name, parameter in model.named_parameters():
        if name.startswith("score"):
            parameter.data.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "fcn8s_white.pt"
    train.save_checkpoint(path, {"format": train.CHECKPOINT_FORMAT, "stage": "fcn8s_white",
                                 "model": model.describe(), "state_dict": model.state_dict(),
                                 "profile": {"image_size": 32}})
    return path


def _photo(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def test_masks_have_each_photos_size_and_do_not_depend_on_the_batch(checkpoint):
    segmenter = inference.Segmenter.from_checkpoint(checkpoint, device="cpu")
    tall, wide = _photo(90, 40, 1), _photo(33, 120, 2)
    together = segmenter.masks([tall, wide])
    assert [m.shape for m in together] == [(90, 40), (33, 120)] and together[0].dtype == bool
    assert np.array_equal(together[1], segmenter.masks([wide])[0])
    assert segmenter.masks([]) == []


def test_mirrored_photo_gives_the_mirrored_mask_only_with_mirror_averaging(checkpoint):
    """The average over a photo and its mirror image is symmetric by construction; the network alone
    is not (its weights are random here), which shows the option really changes the decision."""
    photo = _photo(32, 32, 3)  # the network's own size: no resizing or padding to break the symmetry
    mirrored = inference.Segmenter.from_checkpoint(checkpoint, device="cpu")
    plain = inference.Segmenter.from_checkpoint(checkpoint, device="cpu", mirror=False)
    assert mirrored.mirror and not plain.mirror
    assert np.array_equal(mirrored.masks([photo[:, ::-1]])[0], mirrored.masks([photo])[0][:, ::-1])
    assert not np.array_equal(plain.masks([photo[:, ::-1]])[0], plain.masks([photo])[0][:, ::-1])


def test_the_checkpoints_precision_is_used_and_agrees_with_float32(checkpoint):
    exact = inference.Segmenter.from_checkpoint(checkpoint, device="cpu")  # a profile without amp: fp32
    fast = inference.Segmenter(exact.model, 32, torch.device("cpu"), amp="bf16")
    assert (exact.amp, fast.amp) == ("fp32", "bf16")
    photos = [_photo(64, 64, seed) for seed in range(4)]
    pairs = zip(exact.masks(photos), fast.masks(photos), strict=True)
    agreement = np.mean([np.mean(a == b) for a, b in pairs])
    assert agreement > 0.97  # bfloat16 moves only pixels whose two scores were nearly tied


def test_split_scores_accumulate_pixels_and_outlines():
    scores = metrics.SplitScores(tolerance=1)
    truth = np.zeros((6, 6), bool)
    truth[1:5, 1:5] = True
    scores.add(truth, truth)
    scores.add(np.zeros((6, 6), bool), truth)
    result = scores.result()
    assert result["images"] == 2 and result["sneaker_iou"] == pytest.approx(0.5)
    assert 0 < result["boundary_f"] < 1
    with pytest.raises(ValueError, match="differ in size"):
        scores.add(np.zeros((2, 2), bool), truth)


def test_segment_command_writes_masks_and_cutouts_and_reports_bad_files(tmp_path, checkpoint):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_photo(50, 70)).save(photos / "a.png")
    Image.fromarray(_photo(64, 31)).save(photos / "b.jpg")
    (photos / "c.jpg").write_bytes(b"broken")
    out = tmp_path / "out"
    assert main(["segment", "--checkpoint", str(checkpoint), "--out", str(out), str(photos)]) == 1
    mask = np.asarray(Image.open(out / "a.png"))
    cutout = np.asarray(Image.open(out / "a.cutout.png"))
    assert mask.shape == (50, 70) and set(np.unique(mask)) <= {0, 255}
    assert cutout.shape == (50, 70, 4) and np.array_equal(cutout[..., 3], mask)
    assert (out / "b.png").is_file() and not (out / "c.png").exists()
    assert main(["segment", "--checkpoint", str(checkpoint), "--out", str(out), str(photos / "a.png")]) == 0


def test_evaluate_command_prints_scores_and_lists_missing_masks(tmp_path, checkpoint, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        Image.fromarray(_photo(40, 40, i)).save(images / f"{i}.png")
        right_half = (np.arange(40)[None, :].repeat(40, 0) > 20).astype(np.uint8) * 255
        Image.fromarray(right_half).save(masks / f"{i}.png")
    command = ["evaluate", "--checkpoint", str(checkpoint), "--images", str(images), "--masks", str(masks)]
    assert main(command) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["images"] == 3 and 0 <= scores["mean_iu"] <= 1 and 0 <= scores["boundary_f"] <= 1
    (masks / "2.png").unlink()
    assert main(command) == 1
    assert "2.png" in json.loads(capsys.readouterr().out)["failed"][0]
