import pytest
import torch
import torch.nn.functional as F
import torchvision

from fcn_lib import models

TINY = dict(width=1 / 16, dropout=0.0)


def _trained_like(model: models.FCN, seed: int = 0) -> models.FCN:
    """Give the zero-initialised score layers random values, as training would."""
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in model.named_parameters():
        if name.startswith("score"):
            parameter.data = torch.randn(parameter.shape, generator=generator) * 0.05
    for name, buffer in model.named_buffers():  # batch normalisation's statistics, as training leaves them
        if name.endswith("running_mean"):
            buffer.copy_(torch.randn(buffer.shape, generator=generator) * 0.1)
        elif name.endswith("running_var"):
            buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)
    return model.eval()


@pytest.mark.parametrize("layout", models.LAYOUTS)
@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_logits_have_the_input_size_for_any_size(layout, arch):
    model = models.build(arch, layout=layout, **TINY).eval()
    with torch.no_grad():
        for height, width in [(1, 1), (2, 5), (31, 32), (33, 64), (97, 130), (224, 224), (1000, 17)]:
            out = model(torch.zeros(1, 3, height, width))
            assert out.shape == (1, 2, height, width), (height, width)


@pytest.mark.parametrize("factor", [2, 8])
def test_bilinear_transposed_convolution_is_bilinear_interpolation_inside(factor):
    layer = models.bilinear_upsampling(3, factor, factor // 2, learnable=False)
    x = torch.randn(1, 3, 9, 11)
    ours = layer(x)
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    margin = factor  # the borders differ: a transposed convolution sees zeros beyond the edge
    assert ours.shape == reference.shape
    inside = (..., slice(margin, -margin), slice(margin, -margin))
    assert torch.allclose(ours[inside], reference[inside], atol=1e-5)


def test_bilinear_kernel_is_class_diagonal():
    weight = models.bilinear_kernel(3, 4)
    assert weight[0, 1].abs().sum() == 0 and weight[2, 2].sum() > 0
    assert torch.allclose(weight[1, 1], weight[0, 0])


def test_score_layers_start_at_zero_and_upsampling_is_frozen():
    model = models.FCN8s(**TINY)
    for name in ["score_fr", "score_pool4", "score_pool3"]:
        assert getattr(model, name).weight.abs().sum() == 0
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith("up") for n in frozen)
    learnable = models.FCN8s(learnable_upsampling=True, **TINY)
    assert all(p.requires_grad for p in learnable.parameters())


@pytest.mark.parametrize("normalisation", models.NORMALISATIONS)
@pytest.mark.parametrize("grow, source_cls", [(models.FCN16s.from_fcn32s, models.FCN32s),
                                              (models.FCN8s.from_fcn16s, models.FCN16s)])
def test_aligned_growth_leaves_the_output_exactly_unchanged(grow, source_cls, normalisation):
    torch.manual_seed(0)
    source = _trained_like(source_cls(normalisation=normalisation, **TINY))
    grown = grow(source).eval()
    assert grown.trunk.normalisation == normalisation
    x = torch.randn(2, 3, 70, 90)
    with torch.no_grad():
        difference = (grown(x) - source(x)).abs().max().item()
    assert difference <= 1e-5
    assert torch.equal(grown.trunk.fc6.weight, source.trunk.fc6.weight)


def test_caffe_growth_changes_the_output_a_little():
    """2x then 16x bilinear upsampling is not one 32x upsampling, in the reference too."""
    torch.manual_seed(0)
    source = _trained_like(models.FCN32s(layout="caffe", **TINY))
    grown = models.FCN16s.from_fcn32s(source).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        before, after = source(x), grown(x)
    assert not torch.allclose(before, after)
    agreement = (before.argmax(1) == after.argmax(1)).float().mean().item()
    assert agreement >= 0.99, agreement


def test_growing_from_the_wrong_stage_is_an_error():
    with pytest.raises(TypeError, match="FCN8s grows from FCN16s, got FCN32s"):
        models.FCN8s.from_fcn16s(models.FCN32s(**TINY))
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build("fcn4s")
    with pytest.raises(ValueError, match="layout"):
        models.FCN32s(layout="tf")


def test_batch_normalisation_sits_between_every_convolution_and_its_relu():
    plain = models.VGG16Trunk(width=1 / 16)
    normalised = models.VGG16Trunk(width=1 / 16, normalisation="batch")
    layers = list(normalised.features)
    norms = [i for i, layer in enumerate(layers) if isinstance(layer, torch.nn.BatchNorm2d)]
    assert len(norms) == 13
    for i in norms:
        assert isinstance(layers[i - 1], torch.nn.Conv2d) and isinstance(layers[i + 1], torch.nn.ReLU)
        assert layers[i].num_features == layers[i - 1].out_channels
    # The same pools at the same depths: pool3 and pool4, which the skips read, are still found.
    assert [type(layers[i]) for i in normalised.pool_indices] == [torch.nn.MaxPool2d] * 5
    x = torch.randn(2, 3, 64, 64)
    shapes = [tuple(t.shape) for t in normalised.eval()(x)]
    assert shapes == [tuple(t.shape) for t in plain.eval()(x)]
    with pytest.raises(ValueError, match="normalisation must be one of"):
        models.VGG16Trunk(normalisation="group")


def test_a_normalised_network_is_rebuilt_from_its_description():
    model = _trained_like(models.FCN8s(normalisation="batch", **TINY))
    settings = {k: v for k, v in model.describe().items() if k != "arch"}
    rebuilt = models.build(model.describe()["arch"], dropout=0.0, **settings).eval()
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_imagenet_vgg16_weights_do_not_load_into_a_normalised_trunk():
    with torch.device("meta"):
        state = torchvision.models.vgg16().state_dict()
        with pytest.raises(ValueError, match="no normalisation layers"):
            models.VGG16Trunk(width=1.0, normalisation="batch").load_vgg16(state)


@pytest.mark.parametrize("arch, expected", [("fcn32s", 136_152_917), ("fcn16s", 134_815_994),
                                            ("fcn8s", 134_489_759)])
def test_parameter_counts_equal_the_reference(arch, expected):
    with torch.device("meta"):
        model = models.build(arch, num_classes=21, layout="caffe", width=1.0)
    assert models.parameter_count(model) == expected


def _vgg_layout_state(trunk: models.VGG16Trunk) -> dict:
    """A torchvision-layout VGG-16 state dict shaped for ``trunk`` (a stand-in for ImageNet weights)."""
    generator = torch.Generator().manual_seed(1)
    state = {f"features.{k}": torch.randn(v.shape, generator=generator)
             for k, v in trunk.features.state_dict().items()}
    fc, flat = trunk.fc_channels, trunk.channels[-1] * 49
    for name, shape in [("classifier.0.weight", (fc, flat)), ("classifier.0.bias", (fc,)),
                        ("classifier.3.weight", (fc, fc)), ("classifier.3.bias", (fc,)),
                        ("classifier.6.weight", (1000, fc)), ("classifier.6.bias", (1000,))]:
        state[name] = torch.randn(shape, generator=generator)
    return state


def test_fully_connected_weights_become_equivalent_convolutions(tmp_path):
    trunk = models.VGG16Trunk(width=1 / 16, dropout=0.0)
    state = _vgg_layout_state(trunk)
    torch.save(state, tmp_path / "vgg.pth")
    model = models.FCN32s(backbone_weights=tmp_path / "vgg.pth", **TINY)
    pool5 = torch.randn(1, trunk.channels[-1], 7, 7)
    as_linear = F.linear(pool5.flatten(1), state["classifier.0.weight"], state["classifier.0.bias"])
    as_conv = F.conv2d(pool5, model.trunk.fc6.weight, model.trunk.fc6.bias)  # unpadded: one 1x1 output
    assert torch.allclose(as_linear, as_conv.flatten(1), atol=1e-4)
    assert torch.equal(model.trunk.features[0].weight, state["features.0.weight"])


def test_torchvision_vgg16_keys_and_shapes_fit_the_full_width_trunk():
    with torch.device("meta"):
        state = torchvision.models.vgg16().state_dict()
        trunk = models.VGG16Trunk(layout="caffe", width=1.0)
        trunk.load_vgg16(state)
    with pytest.raises(ValueError, match="only fit width 1.0"):
        models.VGG16Trunk(width=0.5).load_vgg16(state)


def test_missing_imagenet_weights_say_how_to_get_them(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(FileNotFoundError, match=r"(?s)not in the torch hub cache.*vgg16-397923af\.pth"):
        models.FCN32s(backbone_weights="imagenet", width=1.0)
    with pytest.raises(FileNotFoundError, match="do not exist"):
        models.FCN32s(backbone_weights=tmp_path / "nothing.pth", **TINY)
