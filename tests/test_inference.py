import json

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_lib import config, data, inference, metrics, models, stages
from fcn_lib.cli import main


def _photo(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def _network():
    torch.manual_seed(0)
    model = models.FCN8s(width=1 / 32).eval()
    for name, parameter in model.named_parameters():  # scores that vary from pixel to pixel
        if name.startswith("score"):
            parameter.data.normal_(0, 0.5)
    return model


@pytest.fixture
def composites(cache):
    """Eight fixed validation composites of a 32-pixel profile: the dataset, its pixels and masks."""
    profile = config.load_profile("smoke").replace(catalog_count=12, catalog_size=64, image_size=32,
                                                   composites_val=8)
    _, validation = stages.scene_datasets(profile)
    pixels, masks = zip(*(validation[i] for i in range(len(validation))), strict=True)
    return validation, torch.stack(pixels), torch.stack(masks).bool()


@pytest.mark.parametrize("mirror", [False, True])
def test_every_consumer_reads_the_same_masks_off_the_one_prediction_path(composites, mirror):
    """evaluate (validation and the notebooks), predict, predict_dataset and the Segmenter (the segment
    and evaluate commands) all decide through log_probabilities, so they agree pixel for pixel."""
    validation, pixels, truths = composites
    model = _network()
    predicted = inference.predict(model, pixels, mirror=mirror)
    assert predicted.shape == truths.shape and predicted.dtype == torch.bool
    assert np.array_equal(inference.predict_dataset(model, validation, batch_size=3, mirror=mirror),
                          predicted.numpy())
    segmenter = inference.Segmenter(model, 32, torch.device("cpu"), mirror=mirror)
    photos = [np.asarray(image.permute(1, 2, 0)) for image in pixels]  # the network's own size
    assert np.array_equal(np.stack(segmenter.masks(photos)), predicted.numpy())
    expected = metrics.SplitScores()
    expected.add_batch(predicted, truths)
    scores = inference.evaluate(model, data.evaluation_loader(validation, 3), mirror=mirror)
    assert scores["sneaker_iou"] == pytest.approx(expected.result()["sneaker_iou"])
    assert scores["boundary_f"] == pytest.approx(expected.result()["boundary_f"])


class _ScoresOnce(torch.nn.Module):
    """The network, with its scores for each distinct input computed once and then reused: float32
    convolutions need not repeat to the last bit from call to call (CI runs have differed by more than
    1e-5), and the test below is about the averaging, not about them."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network, self.seen = network, {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        key = images.numpy().tobytes()
        if key not in self.seen:
            self.seen[key] = self.network(images)
        return self.seen[key]


def test_mirror_averaging_changes_the_decision_and_its_loss_is_the_averaged_predictions(composites):
    validation, pixels, truths = composites
    model = _network()
    scores_once = _ScoresOnce(model)
    plain, averaged = (inference.log_probabilities(scores_once, pixels, mirror=m) for m in (False, True))
    assert not torch.equal(plain.argmax(1), averaged.argmax(1))
    mirrored = inference.log_probabilities(scores_once, pixels.flip(-1)).flip(-1)
    assert len(scores_once.seen) == 2  # the photos and their mirror images, nothing else
    # The probabilities are averaged, to float32 rounding; averaging the log probabilities instead
    # would be off by ~1e-2.
    assert torch.allclose(averaged.exp(), (plain.exp() + mirrored.exp()) / 2, atol=1e-6)
    assert not torch.allclose(averaged, (plain + mirrored) / 2, atol=1e-3)
    scores = inference.evaluate(model, data.evaluation_loader(validation, 3), mirror=True)
    expected = torch.nn.functional.nll_loss(averaged, truths.long()).item()
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)


def test_the_prediction_path_normalises_any_pixels_and_leaves_the_mode_alone(composites):
    _, pixels, _ = composites
    model = _network().train()
    from_bytes = inference.log_probabilities(model, pixels)
    assert model.training  # as the loop left it
    assert torch.allclose(from_bytes, inference.log_probabilities(model, pixels.float()))
    model.eval()
    with torch.no_grad():
        direct = model(data.normalise(pixels)).log_softmax(1)
    assert torch.allclose(from_bytes, direct, atol=1e-6)
    assert torch.allclose(from_bytes.exp().sum(1), torch.ones(1), atol=1e-5)


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
