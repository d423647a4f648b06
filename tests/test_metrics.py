import numpy as np
import pytest
import torch

from fcn_lib.metrics import binary_iou


def test_iou_of_hand_made_masks():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2], b[1:3] = True, True  # 8 and 8 pixels, 4 shared
    assert binary_iou(a, b) == pytest.approx(4 / 12)
    assert binary_iou(a, a) == 1.0 and binary_iou(a, ~a) == 0.0
    assert binary_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_iou_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        binary_iou(np.zeros((2, 2)), np.zeros((2, 3)))


def test_confusion_matrix_counts_truth_against_prediction_and_skips_ignored_pixels():
    import torch

    from fcn_lib.metrics import confusion_matrix

    target = torch.tensor([0, 0, 1, 1, 1, 255])
    prediction = torch.tensor([0, 1, 1, 1, 0, 1])
    assert confusion_matrix(prediction, target, 2).tolist() == [[1, 1], [1, 2]]


def test_scores_of_a_hand_made_matrix():
    from fcn_lib.metrics import segmentation_scores

    # 10 background pixels (8 right), 5 sneaker pixels (3 right).
    scores = segmentation_scores(np.array([[8, 2], [2, 3]]))
    assert scores["pixel_accuracy"] == pytest.approx(11 / 15)
    assert scores["mean_accuracy"] == pytest.approx((8 / 10 + 3 / 5) / 2)
    background_iu, sneaker_iu = 8 / 12, 3 / 7
    assert scores["sneaker_iou"] == pytest.approx(sneaker_iu)
    assert scores["mean_iu"] == pytest.approx((background_iu + sneaker_iu) / 2)
    assert scores["frequency_weighted_iu"] == pytest.approx(10 / 15 * background_iu + 5 / 15 * sneaker_iu)


def test_a_class_absent_everywhere_is_left_out_of_the_means():
    from fcn_lib.metrics import segmentation_scores

    scores = segmentation_scores(np.array([[5, 0], [0, 0]]))
    assert scores["mean_iu"] == 1.0 and scores["sneaker_iou"] == 1.0


def _dot(row, col, shape=(8, 8)):
    mask = np.zeros(shape, bool)
    mask[row, col] = True
    return mask


def test_boundary_f_counts_outline_pixels_within_the_tolerance():
    from fcn_lib.metrics import boundary_f_score, boundary_matches

    assert boundary_matches(_dot(0, 0), _dot(0, 3), tolerance=2) == (0, 1, 0, 1)
    assert boundary_f_score(boundary_matches(_dot(0, 0), _dot(0, 3), tolerance=3)) == 1.0
    square = np.zeros((10, 10), bool)
    square[2:8, 2:8] = True  # a 6x6 square: 20 outline pixels, 16 interior
    assert boundary_matches(square, square) == (20, 20, 20, 20)
    assert boundary_f_score((0, 0, 0, 0)) == 1.0 and boundary_f_score((0, 0, 0, 5)) == 0.0
    half = boundary_f_score((10, 20, 20, 20))  # precision 1/2, recall 1
    assert half == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_split_scores_are_plain_python_numbers():
    """Checkpoints are loaded with weights_only=True, which refuses NumPy scalars in the history."""
    from fcn_lib.metrics import SplitScores

    scores = SplitScores()
    truth = np.zeros((6, 6), bool)
    truth[1:5, 1:5] = True
    prediction = np.zeros((6, 6), bool)
    prediction[1:5, 2:5] = True
    scores.add(prediction, truth)
    assert all(type(value) in (int, float) for value in scores.result().values())


def _scipy_boundary_matches(prediction, truth, tolerance):
    """The definition, one image at a time: outlines by binary erosion, distances by the exact
    Euclidean distance transform."""
    from scipy import ndimage

    def outline(mask):
        return mask & ~ndimage.binary_erosion(mask, border_value=0)

    predicted, true = outline(prediction), outline(truth)
    far = np.full(true.shape, np.inf)
    to_true = ndimage.distance_transform_edt(~true) if true.any() else far
    to_predicted = ndimage.distance_transform_edt(~predicted) if predicted.any() else far
    return (int((to_true[predicted] <= tolerance).sum()), int(predicted.sum()),
            int((to_predicted[true] <= tolerance).sum()), int(true.sum()))


@pytest.mark.parametrize("tolerance", [1.0, 2.0, 2.5, 3.0])
def test_batched_outline_counts_equal_the_distance_transform_definition(tolerance):
    from fcn_lib.metrics import SplitScores, boundary_matches

    rng = np.random.default_rng(int(tolerance * 10))
    blobs = [_blob(rng) for _ in range(12)] + [np.zeros((24, 20), bool), np.ones((24, 20), bool)]
    pairs = [(blobs[i], blobs[(i + 5) % len(blobs)]) for i in range(len(blobs))]
    expected = np.zeros(4, np.int64)
    for prediction, truth in pairs:
        single = _scipy_boundary_matches(prediction, truth, tolerance)
        assert boundary_matches(prediction, truth, tolerance) == single
        expected += single
    scores = SplitScores(tolerance=tolerance)
    predictions, truths = (torch.from_numpy(np.stack(masks)) for masks in zip(*pairs, strict=True))
    scores.add_batch(predictions, truths)
    assert scores.outline.tolist() == expected.tolist() and scores.images == len(pairs)


def _blob(rng, shape=(24, 20)):
    """A random blob with holes and ragged edges touching the image's edge now and then."""
    from scipy import ndimage

    noise = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    return noise > rng.uniform(-0.1, 0.1)
