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
# # FCN-16s: a skip from pool4
#
# FCN-32s knows *what* is in the picture, but its scores come on a grid of one per 32×32 block
# (stride 32), so its outlines are blobs. Earlier layers keep a finer grid: `pool4` has one feature
# vector per 16×16 block (stride 16), each computed from a smaller window than an fc7 score. FCN-16s
# scores those features too, with a 1×1 convolution, and *adds* them to the FCN-32s scores after
# upsampling those by two. The sum is then upsampled to the full image. This is the first of the *skips* that give
# fully convolutional networks their sharp boundaries.
#
# Training is staged, as in the original work: FCN-16s starts from the trained FCN-32s, with the new
# skip initialised to zero, so at the first step it is exactly the network that was already trained.
#
# **You will learn** how a skip adds stride-16 scores into the upsampled stride-32 ones, why a
# zero-initialised skip makes FCN-16s start as exactly the trained FCN-32s, and how to tell a skip's
# gain from the gain of simply training longer.
#
# **You should know:** chapter 03: the score map, its stride and receptive field, and bilinear
# upsampling.
#
# **Prerequisites:** {doc}`03_fcn32s` (its checkpoint).
#
# | profile | training | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | 3 steps | seconds |
# | `cpu` | 600 steps | see {doc}`../setup` |
# | `full` | 20,000 steps at 224 px | a GPU |

# %% tags=["parameters"]
profile = "cpu"
image_size = 128
layout = "aligned"
width = 0.125
loss_reduction = "mean"
batch_size = 8
schedules = {"fcn16s": {"iterations": 600, "lr": 0.0005}}

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from myst_nb import glue

from fcn_lib import (
    checkpoints,
    compare,
    data,
    inference,
    models,
    paths,
    stages,
    train,
    viz,
)
from fcn_lib.config import from_notebook, seed_everything

config = from_notebook(globals())
seed_everything(config.seed)
figures = paths.figures_dir(config.profile)
record32 = checkpoints.stage_record(
    config, "fcn32s_white"
)  # says which notebook to run if missing
fcn32s = checkpoints.model_from_checkpoint(record32).eval()

# %% [markdown]
# ## The skip, written out
#
# Here is the FCN-16s forward pass of the aligned layout, step by step: score the top of the network
# (stride 32) and upsample by two; score `pool4` (stride 16) and add; upsample to full size (the aligned
# layout's chain does this as ×2 and ×8). The `assert` checks it against `fcn_lib.models.FCN16s` on a
# small network with random skip weights.


# %%
def fcn16s_forward(model, x):
    pool3, pool4, top = model.trunk(x)
    coarse = model.up_pool4(model.score_fr(top))  # stride 32 -> 16
    fused = coarse + model.score_pool4(pool4)  # the skip: finer evidence, added
    return model.up_final(model.up_pool3(fused))  # stride 16 -> 8 -> 1


demo = models.FCN16s(width=1 / 16, dropout=0.0).eval()
for layer in (demo.score_fr, demo.score_pool4):
    torch.nn.init.normal_(layer.weight, std=0.1)
x = torch.randn(1, 3, 64, 96)
with torch.no_grad():
    assert torch.allclose(fcn16s_forward(demo, x), demo(x), atol=1e-6)

# %% [markdown]
# ## Growing FCN-16s from FCN-32s
#
# `FCN16s.from_fcn32s` copies every weight the two networks share (the whole VGG-16 trunk, fc6, fc7 and
# the stride-32 scores) and leaves the new `score_pool4` at zero, so the skip adds nothing yet. In the
# aligned layout both networks share one upsampling chain, so the grown network's output is *exactly*
# the trained FCN-32s's output:

# %%
images, truths = stages.validation_examples(config)
grown = models.FCN16s.from_fcn32s(fcn32s).eval()
with torch.no_grad():
    difference = (
        (grown(data.normalise(images)) - fcn32s(data.normalise(images)))
        .abs()
        .max()
        .item()
    )
print(
    f"score_pool4 weights: all zero = {bool((grown.score_pool4.weight == 0).all())}; "
    f"largest output difference at initialisation: {difference:.1e}"
)

# %% [markdown]
# The reference's `caffe` layout gives each network its own upsampling (×32 for FCN-32s; ×2 then ×16
# for FCN-16s). Two bilinear steps are not the same as one, so there the grown network starts a little
# away from its parent. Measured on a small random network:

# %%
torch.manual_seed(0)
parent = models.FCN32s(layout="caffe", width=1 / 16, dropout=0.0)
torch.nn.init.normal_(parent.score_fr.weight, std=0.05)
child = models.FCN16s.from_fcn32s(parent).eval()
x = torch.randn(1, 3, 96, 96)
with torch.no_grad():
    before, after = parent.eval()(x), child(x)
agreement = (before.argmax(1) == after.argmax(1)).float().mean().item()
print(
    f"caffe layout: largest difference {(before - after).abs().max():.2e}, "
    f"argmax agrees on {agreement:.2%} of pixels"
)

# %% [markdown]
# ## Training FCN-16s
#
# The stage continues from the FCN-32s checkpoint with its own learning rate (see {doc}`03_fcn32s` for
# what the number means).

# %%
checkpoint = train.train_stage(config, "fcn16s_white")
record = checkpoints.load_checkpoint(checkpoint, stage="fcn16s_white")
fcn16s = checkpoints.model_from_checkpoint(record)
for name, history in [("FCN-32s", record32["history"]), ("FCN-16s", record["history"])]:
    print(f"{name}: validation sneaker IoU {history['val'][-1]['sneaker_iou']:.3f}")

# %% mystnb={"figure": {"caption": "FCN-32s, then FCN-16s grown from it: training loss and validation sneaker IoU.", "name": "fig-fcn16s-curves"}}
viz.training_curves({"FCN-32s": record32["history"], "FCN-16s": record["history"]})
plt.show()

# %% [markdown]
# The network starts where FCN-32s stopped, but the training does not quite: every stage builds a fresh
# optimiser. Adam's running estimates of each weight's gradient and its size start again from zero,
# so the first steps of a stage are not scaled the way the last steps of the one before were, and the
# loss curve jumps at the boundary before it settles.

# %% [markdown]
# ## Is it the skip, or the extra steps?
#
# FCN-16s has trained for FCN-32s's steps and its own. A fair test of the skip trains FCN-32s on
# for the same extra steps with the same schedule (the `fcn32s_white_longer` stage) and compares the two at
# every validation both runs share, as {doc}`06_backgrounds` compares its runs (`fcn_lib.compare`):
# by sneaker IoU and by the boundary F-score, where a finer grid should show most.

# %%
longer = checkpoints.load_checkpoint(train.train_stage(config, "fcn32s_white_longer"))
lines = []
for metric, label in [("sneaker_iou", "sneaker IoU"), ("boundary_f", "boundary F")]:
    gap = compare.paired_gap(record["history"], longer["history"], metric)
    glue(f"skip_gain_{metric}", f"{gap.mean:+.3f}", display=False)
    lines.append(f"- {label}: " + gap.describe("FCN-16s", "FCN-32s trained on"))
Markdown("\n".join(lines))

# %% [markdown]
# ## Predictions
#
# The same validation photos as in {doc}`03_fcn32s`. The pool4 skip halves the grid the outline is
# drawn on: compare the toe, the heel and the gap under the arch with FCN-32s's.

# %% mystnb={"figure": {"caption": "The same validation photos: FCN-32s (top) and FCN-16s (bottom).", "name": "fig-fcn16s-predictions"}}
figure = viz.stage_comparison(
    images,
    truths,
    {
        "32s": inference.predict(fcn32s, images),
        "16s": inference.predict(fcn16s, images),
    },
)
figure.savefig(figures / "fcn16s_white_predictions.png", dpi=100)
plt.show()

# %% [markdown]
# ## Summary
#
# - A skip scores an earlier, finer feature map and adds it to the upsampled coarse scores.
# - A zero-initialised skip makes the new network start exactly where the old one stopped (aligned
#   layout); the optimiser starts afresh, which shows as a jump in the loss at the stage boundary.
# - Against FCN-32s trained on for the same steps, the skip changes the boundary F-score by
#   {glue:text}`skip_gain_boundary_f` and the sneaker IoU by {glue:text}`skip_gain_sneaker_iou` on
#   average (the control above says whether that beats the noise); {doc}`05_fcn8s` adds one more skip,
#   from `pool3`.
#
# ## Exercises
#
# 1. Initialise `score_pool4` randomly instead of at zero. What happens to the first steps of training?
# 2. Train FCN-16s from scratch (no FCN-32s) for the same number of steps. Is staging worth it here?
