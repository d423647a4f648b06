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
# **Prerequisites:** {doc}`01_sneaker_masks` (the catalogue, made on demand if missing).
#
# | profile | network and data | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | a 1/32-width VGG-16, 4 steps | seconds |
# | `cpu` | a 1/8-width VGG-16 at 128 px, 1,000 steps | see {doc}`../setup` |
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
import inspect

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Code, Markdown
from myst_nb import glue

from fcn_lib import (
    checkpoints,
    geometry,
    inference,
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
# python -m benchmarks train --device cpu --size 128 --batch 8 --width 0.125 --amp fp32 --optimizer adam
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
