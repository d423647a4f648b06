import numpy as np
import pytest

from fcn_lib.compare import paired_gap


def _history(scores, every=250):
    return {"val": [{"step": every * (i + 1), "sneaker_iou": s} for i, s in enumerate(scores)]}


def test_a_steady_lead_is_decided_and_a_noisy_one_is_not():
    steady = paired_gap(_history([0.50, 0.55, 0.60, 0.62]), _history([0.45, 0.50, 0.56, 0.57]))
    assert steady.leads == 4 and steady.mean == pytest.approx(0.0475) and steady.decided() == 1
    noisy = paired_gap(_history([0.50, 0.40, 0.62, 0.45]), _history([0.45, 0.50, 0.56, 0.50]))
    assert noisy.leads == 2 and noisy.decided() == 0
    assert paired_gap(_history([0.45, 0.50, 0.56, 0.57]), _history([0.50, 0.55, 0.60, 0.62])).decided() == -1


def test_only_shared_steps_up_to_the_limit_are_paired():
    gap = paired_gap(_history([0.1, 0.2, 0.3, 0.4]), _history([0.0, 0.0, 0.0], every=500), up_to=1000)
    assert gap.steps == [500, 1000] and np.allclose(gap.gaps, [0.2, 0.4])
    with pytest.raises(ValueError, match="share no validation step"):
        paired_gap(_history([0.1]), _history([0.1], every=300))


def test_one_shared_validation_decides_nothing():
    assert paired_gap(_history([0.9]), _history([0.1])).decided() == 0


def test_the_description_states_the_verdict_the_gap_and_its_noise():
    gap = paired_gap(_history([0.50, 0.55, 0.60, 0.62]), _history([0.45, 0.50, 0.56, 0.57]))
    assert gap.describe("A", "B") == ("A is ahead of B, by +0.048 on average over 4 shared validations "
                                      "(standard error 0.003; ahead at 4)")
