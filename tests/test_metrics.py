import numpy as np
import pytest

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
