import pytest
import torch
from torch import nn

from fcn_lib import geometry, models


def test_vgg16s_strides_and_receptive_fields():
    fields = geometry.receptive_fields(models.VGG16Trunk(width=1 / 32))
    assert fields == {"pool1": (2, 6), "pool2": (4, 16), "pool3": (8, 44), "pool4": (16, 100),
                      "pool5": (32, 212), "fc6": (32, 404), "fc7": (32, 404)}


@pytest.mark.parametrize("layout", ["aligned", "caffe"])
def test_the_field_is_the_window_a_central_score_actually_depends_on(layout):
    """Backpropagate one pool4 score to the input: the pixels with a gradient span exactly its field.
    (Average pooling, positive weights and biases keep every path open; the geometry is the same.)"""
    trunk = models.VGG16Trunk(layout=layout, width=1 / 64, dropout=0.0)
    trunk.features = nn.Sequential(*[
        nn.AvgPool2d(2, 2, ceil_mode=layout == "caffe") if isinstance(layer, nn.MaxPool2d) else layer
        for layer in trunk.features])
    for parameter in trunk.parameters():
        nn.init.constant_(parameter, 0.01)
    image = torch.zeros(1, 3, 256, 256, requires_grad=True)
    _, pool4, _ = trunk(image + 1.0)
    centre = pool4.shape[-1] // 2
    pool4[0, 0, centre, centre].backward()
    rows = torch.nonzero(image.grad[0].abs().sum(0).sum(1)).flatten()
    _, field = geometry.receptive_fields(trunk)["pool4"]
    assert rows.max() - rows.min() + 1 == field
    stride, offset = geometry.centres(trunk)["pool4"]
    assert (rows.max() + rows.min()).item() / 2 == stride * centre + offset


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_the_reference_crops_follow_from_the_layers_and_the_aligned_layout_needs_none(arch):
    caffe = geometry.crops(models.build(arch, layout="caffe", width=1 / 32))
    stride = int(arch[3:-1])
    expected = {"final": models._CAFFE_CROPS["final"][stride]}
    skips = {32: (), 16: ("pool4",), 8: ("pool4", "pool3")}[stride]
    expected |= {name: models._CAFFE_CROPS[name] for name in skips}
    assert caffe == expected
    aligned = geometry.crops(models.build(arch, layout="aligned", width=1 / 32))
    assert aligned.keys() == expected.keys() and set(aligned.values()) == {0}


def test_a_crop_must_be_a_whole_number_of_cells_of_one_stride():
    assert geometry.crop((16.0, -91.5), (16.0, -11.5)) == 5
    with pytest.raises(ValueError, match="strides"):
        geometry.crop((16.0, 0.0), (8.0, 0.0))
    with pytest.raises(ValueError, match="whole"):
        geometry.crop((16.0, 0.0), (16.0, 8.0))
