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
# # FCN-8s: a second skip, from pool3
#
# One skip sharpened the outline; a second one, from `pool3` at stride 8, sharpens it again. FCN-8s
# upsamples the fused FCN-16s scores by two, adds scores computed from `pool3`, and upsamples the sum to
# the full image. Like FCN-16s it starts from its predecessor with the new skip at zero. This is the
# network the original work transferred to real scenes and fine-tuned there.
#
# **You will learn** how a second skip joins the same upsampling chain, and what it adds at the outline,
# measured against FCN-16s trained on for the same steps.
#
# **You should know:** chapter 04's skip from `pool4`; this chapter adds one more the same way.
#
# **Prerequisites:** {doc}`04_fcn16s` (its checkpoint).
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
schedules = {"fcn8s": {"iterations": 600, "lr": 0.0005}}

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
record16 = checkpoints.stage_record(
    config, "fcn16s_white"
)  # says which notebook to run if missing
fcn16s = checkpoints.model_from_checkpoint(record16).eval()

# %% [markdown]
# ## The second skip, written out
#
# The FCN-16s fusion, then one more: upsample by two, add the `pool3` scores, upsample by eight. The
# `assert` checks it against `fcn_lib.models.FCN8s` on a small network with random skip weights.


# %%
def fcn8s_forward(model, x):
    pool3, pool4, top = model.trunk(x)
    scores = model.up_pool4(model.score_fr(top)) + model.score_pool4(pool4)  # stride 16
    scores = model.up_pool3(scores) + model.score_pool3(pool3)  # stride 8: the new skip
    return model.up_final(scores)  # stride 8 -> 1


demo = models.FCN8s(width=1 / 16, dropout=0.0).eval()
for layer in (demo.score_fr, demo.score_pool4, demo.score_pool3):
    torch.nn.init.normal_(layer.weight, std=0.1)
x = torch.randn(1, 3, 64, 96)
with torch.no_grad():
    assert torch.allclose(fcn8s_forward(demo, x), demo(x), atol=1e-6)

# %% [markdown]
# ## Growing FCN-8s from FCN-16s
#
# As before, every shared weight is copied and the new `score_pool3` starts at zero, so the grown
# network reproduces the trained FCN-16s exactly (aligned layout):

# %%
images, truths = stages.validation_examples(config)
grown = models.FCN8s.from_fcn16s(fcn16s).eval()
with torch.no_grad():
    difference = (
        (grown(data.normalise(images)) - fcn16s(data.normalise(images)))
        .abs()
        .max()
        .item()
    )
print(f"largest output difference at initialisation: {difference:.1e}")

# %% [markdown]
# ## Training FCN-8s

# %%
checkpoint = train.train_stage(config, "fcn8s_white")
record = checkpoints.load_checkpoint(checkpoint, stage="fcn8s_white")
fcn8s = checkpoints.model_from_checkpoint(record)
records = {
    name: checkpoints.stage_record(config, stage)
    for name, stage in [
        ("FCN-32s", "fcn32s_white"),
        ("FCN-16s", "fcn16s_white"),
        ("FCN-8s", "fcn8s_white"),
    ]
}

# %% mystnb={"figure": {"caption": "All three stages on white backgrounds: training loss and validation sneaker IoU.", "name": "fig-fcn8s-curves"}}
figure = viz.training_curves({name: r["history"] for name, r in records.items()})
figure.savefig(figures / "white_training_curves.png", dpi=100)
plt.show()

# %% [markdown]
# ## Is it the skip, or the extra steps?
#
# FCN-8s has trained for FCN-16s's steps and its own. A fair test of the skip trains FCN-16s on
# for the same extra steps with the same schedule (the `fcn16s_white_longer` stage) and compares the two at
# every validation both runs share, as {doc}`06_backgrounds` compares its runs (`fcn_lib.compare`):
# by sneaker IoU and by the boundary F-score, where a finer grid should show most.

# %%
longer = checkpoints.load_checkpoint(train.train_stage(config, "fcn16s_white_longer"))
lines = []
for metric, label in [("sneaker_iou", "sneaker IoU"), ("boundary_f", "boundary F")]:
    gap = compare.paired_gap(record["history"], longer["history"], metric)
    glue(f"skip_gain_{metric}", f"{gap.mean:+.3f}", display=False)
    lines.append(f"- {label}: " + gap.describe("FCN-8s", "FCN-16s trained on"))
Markdown("\n".join(lines))

# %% [markdown]
# ## Three stages side by side
#
# Validation scores of every stage on the held-out catalogue photos, as the reference computes them
# (one confusion matrix over all validation pixels):

# %%
Markdown(
    "| stage | steps | time (s) | sneaker IoU | mean IU | pixel accuracy |\n"
    "|---|---|---|---|---|---|\n"
    + "\n".join(
        f"| {name} | {r['step']} | {r['elapsed_s']:.0f} | {r['history']['val'][-1]['sneaker_iou']:.3f}"
        f" | {r['history']['val'][-1]['mean_iu']:.3f}"
        f" | {r['history']['val'][-1]['pixel_accuracy']:.3f} |"
        for name, r in records.items()
    )
)

# %% [markdown]
# And the same validation photos as in the two notebooks before: the outline sharpens from stride 32
# to 16 to 8.

# %% mystnb={"figure": {"caption": "The same validation photos through FCN-32s, FCN-16s and FCN-8s.", "name": "fig-fcn8s-predictions"}}
networks = {
    stride: checkpoints.model_from_checkpoint(records[f"FCN-{stride}"])
    for stride in ("32s", "16s", "8s")
}
figure = viz.stage_comparison(
    images, truths, {name: inference.predict(m, images) for name, m in networks.items()}
)
figure.savefig(figures / "white_stage_comparison.png", dpi=100)
plt.show()

# %% [markdown]
# ## Summary
#
# - FCN-8s adds a `pool3` skip to FCN-16s; each skip halves the grid the outline is drawn on.
# - Staged training grows each network from the last one with its new skip at zero.
# - Against FCN-16s trained on for the same steps, the `pool3` skip changes the boundary F-score by
#   {glue:text}`skip_gain_boundary_f` and the sneaker IoU by {glue:text}`skip_gain_sneaker_iou` on
#   average (the control above says whether that beats the noise). The next part moves the FCN-8s
#   onto real scenes.
#
# ## Exercises
#
# 1. Where do the remaining errors of FCN-8s lie? Plot `viz.error_map` for the worst validation
#    photo.
# 2. Would a fourth skip, from `pool2`, help? What would it cost?
