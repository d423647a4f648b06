# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # FCN-32s: a classifier that answers for every pixel
#
# VGG-16 {cite:p}`simonyan2015vgg` looks at a 224×224 photo and answers with one label. A *fully
# convolutional* network {cite:p}`long2015fcn` keeps everything VGG-16 learned but answers with a label
# for every pixel. Two changes make that possible: the fully connected layers become convolutions, so
# the network slides over an image of any size and produces a *map* of class scores; and a transposed
# convolution, initialised to bilinear interpolation, stretches that coarse map back to the size of the
# photo. This notebook builds that network, FCN-32s, and trains it on the sneaker catalogue.
#
# **You will learn** how fc6 and fc7 become convolutions, why a 224-pixel photo gives a 7×7 score map
# (stride 32), how a bilinear transposed convolution upsamples, and what the tiny learning rates of the
# original work mean.
#
# **You should know:** convolution, padding, stride and pooling, and how a CNN classifier such as VGG-16
# is built ({cite:t}`zhang2023d2l`, chapters 7 and 8); a loss minimised by gradient descent. The
# transposed convolution is introduced here; {cite:t}`dumoulin2016arithmetic` draw its arithmetic.
#
# **Prerequisites:** {doc}`01_sneaker_masks` (the catalogue, made on demand if missing).
#
# | profile | network and data | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | a 1/32-width VGG-16, 4 steps | seconds |
# | `cpu` | a 1/8-width VGG-16 with batch normalisation at 128 px, 1,000 steps | see {doc}`../setup` |
# | `full` | VGG-16 with ImageNet weights at 224 px, 50,000 steps | a GPU |

# %% tags=["parameters"]
profile = "cpu"
image_size = 128
layout = "aligned"
width = 0.125
backbone_weights = "none"
loss_reduction = "mean"
batch_size = 8
schedules = {"fcn32s": {"iterations": 1000, "lr": 0.001}}

# %% [markdown]
# The parameters above are the ones worth changing by hand; every other setting comes from the profile
# file `notebooks/profiles/<profile>.yaml`.

# %%
import copy
import dataclasses
import inspect

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Code, Markdown, display
from myst_nb import glue

from fcn_lib import (
    checkpoints,
    data,
    geometry,
    inference,
    metrics,
    models,
    optim,
    paths,
    stages,
    train,
    viz,
)
from fcn_lib.config import from_notebook, seed_everything

config = from_notebook(globals())
seed_everything(config.seed)
figures = paths.figures_dir(config.profile)
figures.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## From fully connected to convolutional
#
# VGG-16's first fully connected layer, fc6, reads the 512 × 7 × 7 feature map of `pool5` as one long
# vector and computes 4,096 weighted sums of it. A 7×7 convolution with 4,096 output channels computes
# *the same sums* when it sits on that 7×7 map, with the same weights arranged as 4,096 × 512 × 7 × 7.
# On a larger image the convolution simply slides on and answers at every position. fc7 becomes a 1×1
# convolution the same way. `fcn_lib.models` does the reshape when it loads torchvision's VGG-16 weights;
# here is the equivalence, checked on our network's own fc6:

# %%
trunk = models.VGG16Trunk(layout="caffe", width=config.width, dropout=0.0)
pool5 = torch.randn(1, trunk.channels[-1], 7, 7)
as_fully_connected = F.linear(
    pool5.flatten(1), trunk.fc6.weight.flatten(1), trunk.fc6.bias
)
as_convolution = trunk.fc6(pool5).flatten(
    1
)  # the caffe layout's fc6 is an unpadded 7x7 convolution
print(
    f"fc6 weight {tuple(trunk.fc6.weight.shape)}; largest difference "
    f"{(as_fully_connected - as_convolution).abs().max():.1e}"
)

# %% [markdown]
# ## Feature maps and the stride of 32
#
# Five 2×2 poolings halve the resolution five times, so the last layers' scores come on a grid with one
# cell per 32×32 block of pixels: the *stride* is 32. What a score *sees* is another matter, its
# *receptive field*: every 3×3 convolution widens the window by two of its layer's steps, every
# pooling by one, and fc6's 7×7 kernel by six steps of 32 pixels (`fcn_lib.geometry`). The table
# follows a 224×224 photo through both layouts, with each stage's stride and receptive field. The `caffe` layout is the
# reference implementation's: it pads the first convolution by 100 pixels (so that any input, however
# small, survives the 7×7 fc6) and crops the result back; the `aligned` layout pads the input only to a
# multiple of 32 and keeps every map at exactly 1/2, 1/4, ..., 1/32 of the input, which is 2–3 times
# cheaper.


# %%
def feature_shapes(layout):
    """Height and width of every named feature map for a 224x224 input."""
    model = models.FCN32s(layout=layout, width=1 / 16, dropout=0.0).eval()
    trunk = model.trunk
    names = {
        trunk.features[i]: f"pool{k + 1}" for k, i in enumerate(trunk.pool_indices)
    }
    names |= {trunk.fc6: "fc6", trunk.fc7: "fc7", model.score_fr: "score_fr"}
    shapes = {}

    def record(module, inputs, output):
        shapes[names[module]] = tuple(output.shape[-2:])

    hooks = [module.register_forward_hook(record) for module in names]
    with torch.no_grad():
        shapes["output"] = tuple(model(torch.zeros(1, 3, 224, 224)).shape[-2:])
    for hook in hooks:
        hook.remove()
    return shapes


aligned, caffe = feature_shapes("aligned"), feature_shapes("caffe")
fields = geometry.receptive_fields(models.VGG16Trunk(width=1 / 16))
glue("field_fc7", f"{fields['fc7'][1]}", display=False)
glue("field_pool5", f"{fields['pool5'][1]}", display=False)


def geometry_columns(name):
    stride, field = fields.get(name, ("", ""))
    return f"{stride} | {field}"


Markdown(
    "| layer | aligned | caffe | stride | receptive field (px) |\n|---|---|---|---|---|\n"
    + "\n".join(
        f"| {name} | {aligned[name]} | {caffe[name]} | {geometry_columns(name)} |"
        for name in aligned
    )
)

# %% [markdown]
# So an fc7 score is one of a coarse grid, yet it is computed from a window of
# {glue:text}`field_fc7` pixels a side, wider than the photo itself: FCN-32s knows *what* is in the
# picture, and it is mostly the grid that blurs its outlines.
#
# Two details of the aligned layout matter. fc6 is VGG-16's first fully connected layer, reshaped into a
# 7×7 convolution; padded by 3, it keeps pool5's 7×7 map at 7×7. Only the centre score sees the whole
# map as the fully connected layer did; the others see part of it and zeros beyond the edge. And
# FCN-32s upsamples its scores in three steps, ×2, ×2 and ×8 (the chain FCN-16s and FCN-8s add their
# skips into), not with one ×32 kernel as the reference's FCN-32s does.
#
# In the aligned layout the score map of a 224-pixel photo is 7×7: 49 answers for 50,176 pixels.
#
# ## Upsampling with a bilinear transposed convolution
#
# A transposed convolution with stride *s* spreads every input value over a (2*s*)×(2*s*) patch of the
# output, weighted by its kernel. With the "tent" kernel of {numref}`fig-bilinear`, overlapping
# patches add up to linear interpolation in each direction, that is, bilinear upsampling. FCN
# initialises its upsampling layers this way and, like the reference, keeps them frozen. Away from the
# borders the result equals `torch.nn.functional.interpolate`:

# %%
kernel = models.bilinear_kernel(1, 8)[0, 0]
upsample = models.bilinear_upsampling(1, 4, padding=2, learnable=False)
coarse = torch.rand(1, 1, 7, 7)
ours = upsample(coarse)
reference = F.interpolate(coarse, scale_factor=4, mode="bilinear", align_corners=False)
print(
    "largest difference inside the border:",
    f"{(ours - reference)[..., 4:-4, 4:-4].abs().max():.1e}",
)

# %% mystnb={"figure": {"caption": "The bilinear kernel (upsampling by 4) and a 7 by 7 score map upsampled by it.", "name": "fig-bilinear"}}
viz.grid(
    [kernel.numpy(), coarse[0, 0].numpy(), ours[0, 0].detach().numpy()],
    titles=["8×8 tent kernel", "7×7 scores", "upsampled ×4"],
    columns=3,
    tile=2.6,
)
plt.show()

# %% [markdown]
# ## Where each score sits: pad 100 and the crop of 19
#
# The reference pads `conv1_1` by 100 pixels. Its fc6 is an unpadded 7×7 convolution, so without that
# padding `pool5` would need 7×7 cells, and a photo of 192 pixels or fewer would get no score at all.
# With it, any photo passes, but the output comes out larger than the photo and has to be cropped
# back. By how much follows from where each cell sits.
#
# Say cell $j$ of a map is computed from a window centred on input pixel $a j + b$. A layer with
# kernel $k$, stride $s$ and padding $p$ on that map makes a map whose cells sit at
# $a' j + b'$ with
#
# $$
# a' = s\,a, \qquad b' = b + a\left(\tfrac{k - 1}{2} - p\right).
# $$
#
# - `conv1_1` ($k = 3$, $p = 100$): $b = 1 - 100 = -99$. The other 3×3 convolutions pad by 1 and
#   move nothing.
# - Each 2×2 pooling adds half a cell of its input: at `pool5`, $a = 32$ and
#   $b = -99 + \tfrac{1}{2}(1 + 2 + 4 + 8 + 16) = -83.5$.
# - fc6 ($k = 7$, $p = 0$) adds three cells of 32 pixels: $b = -83.5 + 96 = 12.5$.
# - The upsampling, a transposed convolution with kernel 64 and stride 32, spreads score cell $j$
#   over output pixels $32 j$ to $32 j + 63$, centred on $32 j + 31.5$. So output pixel $o$ sits over
#   score cell $(o - 31.5) / 32$, that is over input pixel $o - 31.5 + 12.5 = o - 19$.
#
# Output pixel 19 lies over input pixel 0, so the reference crops 19 pixels off the top and the left.
# `fcn_lib.geometry` does the same arithmetic layer by layer, for both layouts:

# %%
offsets = {
    layout: geometry.centres(models.VGG16Trunk(layout=layout, width=1 / 16))
    for layout in ("caffe", "aligned")
}
display(
    Markdown(
        "| map | caffe: cell $j$ at | aligned: cell $j$ at |\n|---|---|---|\n"
        + "\n".join(
            f"| {name} | "
            + " | ".join(
                f"{a:g} j {b:+g}" for a, b in (o[name] for o in offsets.values())
            )
            + " |"
            for name in offsets["caffe"]
        )
    )
)
crops = {
    (layout, arch): geometry.crops(models.build(arch, layout=layout, width=1 / 16))
    for layout in ("caffe", "aligned")
    for arch in models.ARCHITECTURES
}
glue("crop_32s", f"{crops['caffe', 'fcn32s']['final']}", display=False)
Markdown(
    "| network | caffe crops | aligned crops |\n|---|---|---|\n"
    + "\n".join(
        f"| {arch} | "
        + " | ".join(
            ", ".join(
                f"{where} {cells}" for where, cells in crops[layout, arch].items()
            )
            for layout in ("caffe", "aligned")
        )
        + " |"
        for arch in models.ARCHITECTURES
    )
)

# %% [markdown]
# The derived crop of FCN-32s is {glue:text}`crop_32s`, the reference's number, and the crops of the
# reference's FCN-16s and FCN-8s in the table (where a skip's scores meet the upsampled coarser ones,
# and at the end) come out of the same rule. In the aligned layout,
# `conv1_1` pads by 1 and fc6 by 3, so every cell sits at $a j + (a - 1)/2$, the centre of its own
# $a \times a$ block of pixels. Every crop is then zero: the maps line up cell for cell, and the
# network never computes the 100-pixel border it would throw away.

# %% [markdown]
# The whole network, as `fcn_lib.models` defines it (the forward pass of the aligned layout; FCN-32s
# has no skips, so only the upsampling chain runs):

# %%
Code(inspect.getsource(models.FCN._forward_aligned), language="python")

# %% [markdown]
# ## What the learning rate means
#
# The original schedule trains FCN-32s at a learning rate of 10⁻⁸ and later stages at 10⁻¹⁰. Those
# numbers only make sense with the loss they belong to: the reference *sums* the per-pixel loss over
# the whole batch, so its gradient is as many times larger as there are pixels. SGD steps by
# `lr × gradient`, so a summed loss at `lr` makes exactly the step a *mean* loss makes at
# `lr × pixels` (and the weight decay scales the other way). `fcn_lib.optim` takes the reduction as a
# setting and converts between the two; a test checks that both give identical weights.
#
# The `cpu` profile trains a narrow network from a random start rather than ImageNet weights, and there
# plain SGD needs a carefully tuned learning rate: it uses Adam instead. Adam divides each step by a
# running estimate of the gradient's size, so for Adam the loss reduction does not change what a
# learning rate means. The `full` profile keeps the seed's SGD and summed loss.
#
# The `cpu` profile computes in float32 on every processor (`amp: fp32`). bfloat16 would be faster
# where the processor has bfloat16 instructions (AVX512-BF16 or AMX), but its rounding changes the
# trained network, and most readers' laptops have no such instructions: in float32 a reader's build
# and the published one compute the same thing. What makes the step fast without changing what it
# computes: `channels_last` stores images pixel by pixel, the layout oneDNN's convolutions prefer;
# fc6, a 7×7 convolution on a map hardly larger than its kernel, runs as one matrix product; and the
# optimiser updates every parameter in one fused pass. The batches are made in the training process
# itself: on two cores a separate loader process competes with the network's two threads. This
# benchmark measures the step (images/s, and GFLOP/s against the cores' peak):
#
# ```bash
# python -m benchmarks train --device cpu --size 128 --batch 8 --width 0.125 --amp fp32 --optimizer adam --normalisation batch
# ```

# %%
pixels = optim.pixels_per_batch(15, 224)
rows = []
for lr_sum in (1e-8, 1e-10):
    lr_mean, _ = optim.equivalent_hyperparameters(lr_sum, 5e-4, pixels, "sum", "mean")
    rows.append(f"| {lr_sum:.0e} | {lr_mean:.2e} |")
ours_sum, _ = optim.equivalent_hyperparameters(
    config.schedules["fcn32s"].lr,
    config.weight_decay,
    optim.pixels_per_batch(config.batch_size, config.image_size),
    config.loss_reduction,
    "sum",
)
Markdown(
    f"A batch of 15 photos of 224×224 has {pixels:,} pixels.\n\n"
    "| summed-loss lr | the same step as a mean-loss lr |\n|---|---|\n"
    + "\n".join(rows)
    + f"\n\nWith SGD, this profile's `{config.loss_reduction}` learning rate "
    f"{config.schedules['fcn32s'].lr:g} would be a summed-loss learning rate of {ours_sum:.2e}. "
    f"The profile trains with `{config.optimizer}`"
    + (
        ", whose steps do not depend on the loss's scale: for it the conversion does not apply."
        if config.optimizer == "adam"
        else "."
    )
)

# %% [markdown]
# ## Batch normalisation in a trunk that starts at random
#
# The original work starts from ImageNet's VGG-16, whose layers already pass signals of a sensible
# size. A trunk that starts from random weights does not, so the `cpu` profile adds what torchvision's
# `vgg16_bn` adds: a batch normalisation {cite:p}`ioffe2015batchnorm` between every convolution and its
# ReLU (`normalisation: batch`). While training, it rescales each channel to zero mean and unit
# variance over the batch, then by a learned scale and shift; when predicting, it uses running
# averages of those statistics, so a photo's answer does not depend on the photos beside it. In the
# development runs the normalised trunk learned the rendered sneakers better within the same steps
# ({doc}`../tuning`, the tenth round). The `full` profile keeps the plain VGG-16
# (`normalisation: none`): ImageNet's weights have no such layers. This profile's first block:

# %%
profile_trunk = models.VGG16Trunk(
    width=config.width, normalisation=config.normalisation
)
print(profile_trunk.features[: profile_trunk.pool_indices[0] + 1])

# %% [markdown]
# ## Training FCN-32s on white backgrounds
#
# The catalogue's photos are split once (a fixed seed) into training and validation photos. Training
# sees augmented photos (flips, small shifts and scalings, colour changes; the mask follows every
# geometric change); validation sees the held-out photos as they are. The checkpoint, its history and
# its provenance go to `artifacts/<profile>/fcn32s_white.pt`.

# %%
checkpoint = train.train_stage(config, "fcn32s_white")
record = checkpoints.load_checkpoint(checkpoint, stage="fcn32s_white")
model = checkpoints.model_from_checkpoint(record)
final = record["history"]["val"][-1]
print(
    f"{record['step']} steps in {record['elapsed_s']:.0f} s; validation sneaker IoU "
    f"{final['sneaker_iou']:.3f}, mean IU {final['mean_iu']:.3f}"
)

# %% mystnb={"figure": {"caption": "FCN-32s: training loss and validation sneaker IoU.", "name": "fig-fcn32s-curves"}}
viz.training_curves({"FCN-32s": record["history"]})
plt.show()

# %% [markdown]
# ## Predictions
#
# Six validation photos, the same ones in the next two notebooks, so the stages can be compared. The
# pink tint marks what the network calls background. Stride 32 shows: the outlines are soft blobs,
# because the scores come one per 32×32 block and the bilinear upsampling only blends neighbours.

# %% mystnb={"figure": {"caption": "FCN-32s on validation photos, with the IoU of each prediction.", "name": "fig-fcn32s-predictions"}}
images, truths = stages.validation_examples(config)
figure = viz.stage_comparison(images, truths, {"32s": inference.predict(model, images)})
figure.savefig(figures / "fcn32s_white_predictions.png", dpi=100)
plt.show()

# %% [markdown]
# ## One training step, by hand
#
# Nothing in the training loop is hidden. For a pixel with scores $z_0$ (background) and $z_1$
# (sneaker) and true class $y$, the cross-entropy is
#
# $$
# \ell = -\log \frac{e^{z_y}}{e^{z_0} + e^{z_1}} = \log\left(e^{z_0} + e^{z_1}\right) - z_y .
# $$
#
# The reference's loss $L$ sums $\ell$ over all $N \times H \times W$ pixels of a batch; the `cpu`
# profile's divides that sum by the number of pixels. Here it is for two of the validation photos
# above, computed from the network's scores and checked against PyTorch's `cross_entropy`:


# %%
def pixel_losses(logits, targets):
    """The cross-entropy of every pixel: log(sum of exp(scores)) minus the true class's score."""
    return torch.logsumexp(logits, dim=1) - logits.gather(1, targets[:, None])[:, 0]


inputs, targets = data.to_model(images[:2], truths[:2], torch.device("cpu"))
model.eval()  # no dropout: every pass below computes the same function
with torch.no_grad():
    logits = model(inputs)  # N x 2 x H x W scores
per_pixel = pixel_losses(logits, targets)
print(
    f"{per_pixel.numel():,} pixels. By hand: summed {per_pixel.sum():.2f}, "
    f"mean {per_pixel.mean():.5f}. F.cross_entropy: "
    f"{F.cross_entropy(logits, targets, reduction='sum'):.2f}, "
    f"{F.cross_entropy(logits, targets):.5f}"
)

# %% [markdown]
# Where does that loss come from? The next cell measures how much of it lies within 4 pixels of a
# true outline, against how much of the image that band covers ({numref}`fig-pixel-loss` shows it).

# %%
outline = metrics.outlines(truths[:2])
band = F.max_pool2d(outline[:, None].float(), 9, stride=1, padding=4)[:, 0] > 0
glue("loss_band_share", f"{per_pixel[band].sum() / per_pixel.sum():.0%}", display=False)
glue("loss_band_area", f"{band.float().mean():.0%}", display=False)

# %% [markdown]
# The band along the outlines holds {glue:text}`loss_band_share` of the loss on
# {glue:text}`loss_band_area` of the pixels. The skips of the next two chapters are meant to sharpen
# the outline; chapters 04 and 05 measure what they gain there.

# %% mystnb={"figure": {"caption": "Two validation photos, their masks, and the per-pixel cross-entropy of FCN-32s (brighter: larger loss; 1 and above are white).", "name": "fig-pixel-loss"}}
viz.grid(
    [
        panel
        for k in range(2)
        for panel in (
            images[k].permute(1, 2, 0).numpy(),
            truths[k].numpy(),
            per_pixel[k].clamp(max=1.0).numpy(),
        )
    ],
    titles=["photo", "mask", "per-pixel loss, up to 1"] * 2,
    columns=6,
    tile=2.0,
)
plt.show()

# %% [markdown]
# One step of SGD then moves every trained weight $w$ by $-\eta\,(\partial L / \partial w + \lambda w)$,
# with $\eta$ the learning rate and $\lambda$ the weight decay, and every bias by
# $-2\eta\,\partial L / \partial b$ (the reference's biases learn twice as fast and do not decay).
# On a first step the momentum has nothing to carry yet. The cell takes that step by hand on one
# copy of the network and with `fcn_lib.train.training_step` on another, and compares the weights:

# %%
schedule = dataclasses.replace(
    stages.schedule_for(config, stages.stage_named("fcn32s_white")), optimizer="sgd"
)
by_package, by_hand = copy.deepcopy(model), copy.deepcopy(model)
train.training_step(
    by_package,
    optim.make_optimizer(by_package, schedule),
    inputs,
    targets,
    schedule.lr,
    train.StepSettings(reduction=config.loss_reduction),
)

trained = [(name, p) for name, p in by_hand.named_parameters() if p.requires_grad]
logits = by_hand(inputs)
per_pixel = pixel_losses(logits, targets)
loss = per_pixel.sum() if config.loss_reduction == "sum" else per_pixel.mean()
gradients = torch.autograd.grad(loss, [p for _, p in trained])
with torch.no_grad():
    for (name, p), g in zip(trained, gradients, strict=True):
        if name.endswith("bias"):
            p -= 2 * schedule.lr * g
        else:
            p -= schedule.lr * (g + schedule.weight_decay * p)

pairs = list(
    zip(by_hand.parameters(), by_package.parameters(), model.parameters(), strict=True)
)
step = max((hand - before).abs().max().item() for hand, _, before in pairs)
disagreement = max((hand - package).abs().max().item() for hand, package, _ in pairs)
print(
    f"largest change of a weight in the step {step:.2e}; "
    f"by hand against fcn_lib.train {disagreement:.1e}"
)
# Equal up to float32 rounding: a thousandth of the step, or a few units in a weight's last place.
assert all(
    torch.allclose(hand, package, rtol=1e-6, atol=1e-3 * step)
    for hand, package, _ in pairs
)

# %% [markdown]
# ## Summary
#
# - Convolutionalised fc6/fc7 turn VGG-16 into a network that maps an image of any size to a map of
#   class scores, at 1/32 of the resolution.
# - A frozen bilinear transposed convolution brings the scores back to full size; the result is right
#   about *where* the sneaker is and vague about its outline.
# - A learning rate belongs to a loss reduction: 10⁻¹⁰ on a summed loss is an ordinary step.
#
# {doc}`04_fcn16s` adds a skip from `pool4` to sharpen the outline.
#
# ## Exercises
#
# 1. Train with `layout = "caffe"` and compare the time per step with the aligned layout.
# 2. Train with `optimizer = "sgd"`, then again with `loss_reduction = "sum"` and the `fcn32s` stage's
#    `lr` converted by `equivalent_hyperparameters`. Do the two runs reach the same validation IoU? Why
#    would the same conversion make Adam's steps far too small?
# 3. Make the upsampling learnable (`learnable_upsampling=True` in `fcn_lib.models.FCN32s`). Does it
#    help at stride 32?
