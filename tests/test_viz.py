import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from fcn_lib import viz  # noqa: E402


def test_overlay_tints_only_the_background():
    image = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    out = viz.overlay(image, mask)
    assert (out[:2] == 100).all() and not (out[2:] == 100).all()


def test_error_map_colours_each_kind_of_pixel():
    truth = np.array([[True, True, False, False]])
    prediction = np.array([[True, False, True, False]])
    out = viz.error_map(prediction, truth)
    assert tuple(out[0, 0]) == (190, 190, 190) and tuple(out[0, 1]) == (40, 90, 240)
    assert tuple(out[0, 2]) == (230, 40, 40) and tuple(out[0, 3]) == (0, 0, 0)


def test_grid_lays_out_every_image_with_its_title():
    figure = viz.grid([np.zeros((5, 5, 3), np.uint8)] * 3 + [np.zeros((5, 5), bool)], titles=list("abcd"),
                      columns=3)
    shown = [axis for axis in figure.axes if axis.images]
    assert len(figure.axes) == 6 and [a.get_title() for a in shown] == list("abcd")


def _history(steps):
    return {"train": [{"step": s, "loss": 1.0 / s} for s in steps],
            "val": [{"step": steps[-1], "sneaker_iou": 0.5}]}


def test_staged_curves_continue_each_others_steps_and_can_share_a_larger_figure():
    import matplotlib.pyplot as plt

    figure = viz.training_curves({"a": _history([1, 2, 3]), "b": _history([1, 2])})
    loss_axis = figure.axes[0]
    assert [list(line.get_xdata()) for line in loss_axis.lines] == [[1, 2, 3], [4, 5]]
    big, axes = plt.subplots(2, 2)
    assert viz.training_curves({"c": _history([1, 2])}, axes=axes[1], offset=10) is big
    assert list(axes[1][0].lines[0].get_xdata()) == [11, 12] and not axes[0][0].lines
    plt.close("all")
