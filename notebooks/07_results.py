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
# # Results: every stage scored, and the tool it makes
#
# This notebook collects what the book built. It scores every stage on both validation sets, shows the
# original work's *Results* figure done properly (the same photos through every stride), the best and
# worst cases, and all training curves. Then it uses the final network as the tool it was meant to be:
# find the sneaker in a photo, cut it out, and paste it onto another picture.
#
# **You will learn** what each segmentation score measures (and how to compute them by hand), where the
# network fails, and how to use it as a tool.
#
# **You should know:** precision and recall; every score used here is defined in the chapter.
#
# **Prerequisites:** {doc}`03_fcn32s` to {doc}`06_backgrounds` (their checkpoints).
#
# | profile | evaluation | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | a few images | seconds |
# | `cpu` | every validation photo and composite | see {doc}`../setup` |

# %% tags=["parameters"]
profile = "cpu"
image_size = 128

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from fcn_lib import (
    acceleration,
    checkpoints,
    compose,
    data,
    inference,
    metrics,
    paths,
    proxy,
    scenes,
    stages,
    viz,
)
from fcn_lib.config import code_version, from_notebook, seed_everything

config = from_notebook(globals())
seed_everything(config.seed)
figures = paths.figures_dir(config.profile)
device = acceleration.resolve_device(config.device)
STAGES = {
    "FCN-32s": "fcn32s_white",
    "FCN-16s": "fcn16s_white",
    "FCN-8s": "fcn8s_white",
    "FCN-8s scenes": "fcn8s_background",
}
records = {
    name: checkpoints.stage_record(config, stage) for name, stage in STAGES.items()
}
networks = {
    name: checkpoints.model_from_checkpoint(r).to(device) for name, r in records.items()
}

# %% [markdown]
# ## Scores
#
# Every stage on the held-out catalogue photos (white backgrounds) and on the validation composites
# (validation sneakers on validation scenes). The scores are the reference's, from one confusion matrix
# per set, plus the sneaker IoU and a boundary F-score: the F1 score (harmonic mean) of outline
# precision, the share of predicted outline pixels within two pixels of the true outline, and outline
# recall, the share of true outline pixels within two pixels of the predicted one. Outlines are where
# the finer strides earn their keep.

# %%
_, white_val = stages.white_datasets(config)
_, scene_val = stages.scene_datasets(config)
sets = {"white": white_val, "scenes": scene_val}
scores = {
    (name, set_name): inference.evaluate(
        model, data.evaluation_loader(dataset, 2 * config.batch_size)
    )
    for name, model in networks.items()
    for set_name, dataset in sets.items()
}
# The way the tool decides (fcn-sneakers segment): each composite together with its mirror image.
scores["FCN-8s scenes, mirror-averaged", "scenes"] = inference.evaluate(
    networks["FCN-8s scenes"],
    data.evaluation_loader(scene_val, 2 * config.batch_size),
    mirror=True,
)


def all_background(dataset):
    """The scores of a network that answers "background" everywhere: the floor to beat."""
    matrix = 0
    for _, masks in data.evaluation_loader(dataset, 2 * config.batch_size):
        matrix = matrix + metrics.confusion_matrix(torch.zeros_like(masks), masks, 2)
    return {**metrics.segmentation_scores(matrix), "boundary_f": 0.0}


for set_name, dataset in sets.items():
    scores["nothing (all background)", set_name] = all_background(dataset)
glue(
    "floor_accuracy_white",
    f"{scores['nothing (all background)', 'white']['pixel_accuracy']:.3f}",
    display=False,
)
columns = ["sneaker_iou", "boundary_f", "mean_iu", "pixel_accuracy"]
Markdown(
    "| stage | set | sneaker IoU | boundary F | mean IU | pixel accuracy |\n|---|---|---|---|---|---|\n"
    + "\n".join(
        f"| {name} | {set_name} | " + " | ".join(f"{s[c]:.3f}" for c in columns) + " |"
        for (name, set_name), s in scores.items()
    )
)

# %%
(figures / "scores.json").write_text(
    json.dumps({f"{n} / {s}": v for (n, s), v in scores.items()}, indent=1)
)
for key, value in {
    "iou_white_32s": scores["FCN-32s", "white"]["sneaker_iou"],
    "iou_white_8s": scores["FCN-8s", "white"]["sneaker_iou"],
    "bf_white_32s": scores["FCN-32s", "white"]["boundary_f"],
    "bf_white_16s": scores["FCN-16s", "white"]["boundary_f"],
    "bf_white_8s": scores["FCN-8s", "white"]["boundary_f"],
    "iou_scenes_white8s": scores["FCN-8s", "scenes"]["sneaker_iou"],
    "iou_scenes_final": scores["FCN-8s scenes", "scenes"]["sneaker_iou"],
    "iou_scenes_mirror": scores["FCN-8s scenes, mirror-averaged", "scenes"][
        "sneaker_iou"
    ],
    "bf_scenes_mirror": scores["FCN-8s scenes, mirror-averaged", "scenes"][
        "boundary_f"
    ],
}.items():
    glue(key, f"{value:.3f}", display=False)

# %% [markdown]
# The scores, for a confusion matrix $n_{ij}$ (pixels of true class $i$ predicted as $j$), with
# $t_i = \sum_j n_{ij}$ the pixels of class $i$ and $C = 2$ classes:
#
# $$
# \text{pixel accuracy} = \frac{\sum_i n_{ii}}{\sum_i t_i}, \qquad
# \text{mean accuracy} = \frac{1}{C} \sum_i \frac{n_{ii}}{t_i}, \qquad
# \text{IU}_i = \frac{n_{ii}}{t_i + \sum_j n_{ji} - n_{ii}},
# $$
#
# $$
# \text{mean IU} = \frac{1}{C} \sum_i \text{IU}_i, \qquad
# \text{frequency-weighted IU} = \frac{\sum_i t_i \, \text{IU}_i}{\sum_i t_i}, \qquad
# \text{sneaker IoU} = \text{IU}_\text{sneaker}, \qquad
# \text{boundary F} = \frac{2PR}{P + R},
# $$
#
# where $P$ and $R$ are the outline precision and recall at two pixels. Sneakers cover a small part of
# each image, so the pixel accuracy flatters: a network that answers "background" everywhere (the
# table's "nothing" rows) scores {glue:text}`floor_accuracy_white` on white backgrounds and a sneaker IoU
# of zero. The sneaker IoU and the boundary F-score are the numbers to read.
#
# On white backgrounds the sneaker IoU rises from {glue:text}`iou_white_32s` (FCN-32s) to
# {glue:text}`iou_white_8s` (FCN-8s), and the boundary F-score orders the strides as the skips promise:
# {glue:text}`bf_white_32s` for 32s, {glue:text}`bf_white_16s` for 16s, {glue:text}`bf_white_8s` for 8s.
# On unseen scenes the white-background FCN-8s reaches a sneaker IoU of
# {glue:text}`iou_scenes_white8s`; fine-tuned on composites it reaches {glue:text}`iou_scenes_final`.
# Deciding each composite together with its mirror image, as `fcn-sneakers segment` does, gives
# {glue:text}`iou_scenes_mirror` (boundary F {glue:text}`bf_scenes_mirror`): a mirrored sneaker is
# still a sneaker, so the two looks err differently and their average errs less.
#
# ### The scores by hand
#
# Nothing in these formulas needs a library. Below, FCN-8s's masks on the white validation photos are
# counted into the four cells of the confusion matrix with plain NumPy, and the formulas are evaluated
# on them. The cell checks them against `fcn_lib.metrics` on the same masks, and prints the table's
# numbers beside them.

# %%
predicted = inference.predict_dataset(
    networks["FCN-8s"], white_val, 2 * config.batch_size
)
truth = np.stack([white_val[i][1].numpy() for i in range(len(white_val))]).astype(bool)
n = np.array(
    [
        [np.sum(~truth & ~predicted), np.sum(~truth & predicted)],  # true background
        [np.sum(truth & ~predicted), np.sum(truth & predicted)],  # true sneaker
    ],
    dtype=np.float64,
)
t = n.sum(1)  # pixels of each true class
iu = np.diag(n) / (t + n.sum(0) - np.diag(n))
by_hand = {
    "pixel_accuracy": np.trace(n) / t.sum(),
    "mean_accuracy": np.mean(np.diag(n) / t),
    "mean_iu": iu.mean(),
    "frequency_weighted_iu": (t * iu).sum() / t.sum(),
    "sneaker_iou": iu[1],
}
print("confusion matrix (rows: true background, sneaker; columns: predicted):")
print(n.astype(int))
package = metrics.segmentation_scores(
    metrics.confusion_matrix(torch.from_numpy(predicted), torch.from_numpy(truth), 2)
)
for name, value in by_hand.items():
    print(
        f"{name:22s} by hand {value:.4f}   fcn_lib.metrics {package[name]:.4f}"
        f"   the table {scores['FCN-8s', 'white'][name]:.4f}"
    )
assert all(abs(value - package[name]) < 1e-9 for name, value in by_hand.items())

# %% [markdown]
# ## The same photos through every stride
#
# The original *Results* section showed input/output pairs. Here they are for the same validation
# photos through every stage, on white backgrounds:

# %% mystnb={"figure": {"caption": "Validation photos through FCN-32s, FCN-16s, FCN-8s and the fine-tuned FCN-8s (background tinted).", "name": "fig-results-strides"}}
images, truths = stages.validation_examples(config)
figure = viz.stage_comparison(
    images, truths, {name: inference.predict(m, images) for name, m in networks.items()}
)
figure.savefig(figures / "results_strides.png", dpi=100)
plt.show()

# %% [markdown]
# ## Best and worst on scenes
#
# The fine-tuned FCN-8s on the validation composites, mirror-averaged: its three best and three worst
# (by IoU, among composites that contain a sneaker).

# %%
final = networks["FCN-8s scenes"]
composites = [scene_val.composite(i) for i in range(len(scene_val))]
predicted = inference.predict_dataset(final, scene_val, mirror=True)
ious = np.array(
    [
        metrics.binary_iou(p, label) if label.any() else np.nan
        for p, (_, label, _) in zip(predicted, composites, strict=True)
    ]
)
order = [int(i) for i in np.argsort(ious) if not np.isnan(ious[i])]
chosen = order[-3:][::-1] + order[:3]

# %% mystnb={"figure": {"caption": "Best (left) and worst (right) validation composites: the prediction (top, background tinted) and its errors (bottom; red = extra, blue = missed).", "name": "fig-results-best-worst"}}
figure = viz.grid(
    [viz.overlay(composites[i][0], predicted[i]) for i in chosen]
    + [viz.error_map(predicted[i], composites[i][1]) for i in chosen],
    titles=[f"IoU {ious[i]:.2f}" for i in chosen] + [""] * len(chosen),
    columns=len(chosen),
)
figure.savefig(figures / "results_best_worst.png", dpi=100)
plt.show()

# %% [markdown]
# ## Training curves of every stage
#
# The white stages are validated on catalogue photos on white, the scene stage on composites, so their
# scores are drawn on separate rows: on one axis the step from white to scenes would look like a
# collapse, when it is a change of exam.

# %% mystnb={"figure": {"caption": "All stages in order: FCN-32s, FCN-16s and FCN-8s on white (top), then FCN-8s on scenes (bottom), with the steps counted on from the white stages.", "name": "fig-results-curves"}}
histories = {name: r["history"] for name, r in records.items()}
on_white = {name: h for name, h in histories.items() if name != "FCN-8s scenes"}
figure, axes = plt.subplots(2, 2, figsize=(10, 6.4))
viz.training_curves(on_white, axes=axes[0])
white_steps = sum(h["train"][-1]["step"] for h in on_white.values() if h["train"])
viz.training_curves(
    {"FCN-8s scenes": histories["FCN-8s scenes"]}, axes=axes[1], offset=white_steps
)
axes[0][1].set_title("validation photos on white", fontsize=9)
axes[1][1].set_title("validation composites on scenes", fontsize=9)
figure.tight_layout()
figure.savefig(figures / "results_curves.png", dpi=100)
plt.show()

# %% [markdown]
# ## The tool: find, cut out, paste
#
# `fcn-sneakers segment --checkpoint artifacts/<profile>/fcn8s_background.pt --out DIR PHOTOS...` writes,
# for every photo of any size, a mask at the photo's own resolution and a cut-out with a transparent
# background. Here is the same thing in code, on validation composites the network has not trained
# on: the best case, a typical one (the median IoU) and the worst, each with its mask, its cut-out and
# its errors. Then the best cut-out is pasted onto another picture.

# %%
segmenter = inference.Segmenter(
    final, config.image_size, device, photo_statistics=config.photo_statistics
)
cases = {"best": order[-1], "typical": order[len(order) // 2], "worst": order[0]}
photos = [composites[i][0] for i in cases.values()]
found = segmenter.masks(photos)
rows, cols = np.indices(photos[0].shape[:2]) // 8
checker = ((rows + cols) % 2 * 60 + 160)[..., None].repeat(3, -1)
tiles, titles = [], []
for (case, i), photo, mask in zip(cases.items(), photos, found, strict=True):
    truth = composites[i][1]
    tiles += [
        photo,
        mask,
        np.where(mask[..., None], photo, checker).astype(np.uint8),
        viz.error_map(mask, truth),
    ]
    iou = metrics.binary_iou(mask, truth)
    titles += [f"{case}: IoU {iou:.2f}", "mask", "cut-out", "errors"]

# %% mystnb={"figure": {"caption": "The tool on its best, a typical and its worst validation composite: the photo, the network's mask, the cut-out on a transparent background, and the errors (red = extra, blue = missed).", "name": "fig-results-tool"}}
figure = viz.grid(tiles, titles=titles, columns=4, tile=2.2)
figure.savefig(figures / "results_tool.png", dpi=100)
plt.show()

# %%
mask = found[0]
if not mask.any():  # an untrained network (the smoke profile) finds nothing to cut out
    print("the network found no sneaker here; the paste below uses the true mask")
    mask = composites[cases["best"]][1]
cutout = compose.make_cutout(photos[0], mask, "found")
other = np.asarray(
    data.load_scenes(scenes.scenes_for(config.backgrounds, "val"), 256)[-1]
)
canvas = compose.scene_crop(
    other, 256, np.random.default_rng(1), compose.PasteSettings(flip=0.0)
)
sneaker, alpha, _ = compose.styled_sneaker(
    cutout,
    120,
    np.random.default_rng(2),
    compose.PasteSettings(flip=0.0, jitter=0.0),
)
compose.paste(canvas, np.zeros((256, 256), bool), sneaker, alpha, x=70, y=140)

# %% mystnb={"figure": {"caption": "The best case's cut-out, pasted onto another picture.", "name": "fig-results-paste"}}
figure = viz.grid([canvas.clip(0, 255).astype(np.uint8)], columns=1, tile=3.0)
plt.show()

# %% [markdown]
# ## Real photographs, and how far rendered sneakers carry
#
# Everything above was scored on rendered sneakers, and a network trained on them may have learned
# what the renderer draws rather than what a sneaker is. Real photographs settle it. Where they are at
# hand (the developers' `../shared/data`, or a user's `data/sneakers` and `data/scenes`), every stage is
# scored on the four sets of {doc}`06_backgrounds`: real catalogue shots on white, rendered sneakers on
# real scenes, real sneakers on real scenes, and real sneakers small and low in real scenes. A network
# trained by the same schedule on real product photos and real scenes (the `real` profile,
# `notebooks/profiles/real.yaml`, which leaves out the aids meant for rendered sneakers) is the
# yardstick: the distance between the two rows is what the rendered catalogue still lacks.

# %%
folders = proxy.real_folders()
real_rows = {}
if folders is not None and config.profile != "smoke":
    real_rows = {
        str(checkpoints.checkpoint_path(config, stage)): name
        for name, stage in STAGES.items()
    }
    yardstick = paths.artifacts_dir("real") / "fcn8s_background.pt"
    if yardstick.is_file():
        real_rows[str(yardstick)] = (
            "FCN-8s scenes, trained on real photos (real profile)"
        )
    real_report = proxy.report(list(real_rows), "test", config.device, folders)
    (figures / "real_scores.json").write_text(json.dumps(real_report, indent=1))
    display(Markdown(proxy.table(real_report, real_rows)))
    if not yardstick.is_file():
        print(
            "no real-profile network in artifacts/real: train one with "
            "`make book PROFILE=real` (needs data/sneakers and data/scenes) to compare"
        )
else:
    print(
        "no real photographs here (or the smoke profile): skipping the real-photo scores"
    )

# %% [markdown]
# {numref}`fig-results-real` shows the same held-out real sneakers on real scenes through the final
# network (top: its mask, background tinted; bottom: its errors, red = extra, blue = missed). Without
# real photographs the figure says so.

# %% mystnb={"figure": {"caption": "Real sneakers pasted on real scenes, segmented by the final network (when real photographs are available).", "name": "fig-results-real"}}
if real_rows:
    pairs = proxy.proxy_sets(folders, "test", count=12)["real_on_real"][:6]
    found = segmenter.masks([photo for photo, _ in pairs])
    figure = viz.grid(
        [
            viz.overlay(photo, mask)
            for (photo, _), mask in zip(pairs, found, strict=True)
        ]
        + [
            viz.error_map(mask, truth)
            for (_, truth), mask in zip(pairs, found, strict=True)
        ],
        columns=6,
    )
else:
    figure, axis = plt.subplots(figsize=(8, 1.2))
    axis.set_axis_off()
    axis.text(
        0.5,
        0.5,
        "No real photographs in this build (../shared/data, or data/sneakers and "
        "data/scenes)",
        ha="center",
        va="center",
    )
figure.savefig(figures / "results_real.png", dpi=100)
plt.show()

# %% [markdown]
# ## Provenance

# %%
lines = [
    f"- **profile** `{config.profile}`, image size {config.image_size}, width {config.width}, "
    f"layout `{config.layout}`, backbone `{config.backbone_weights}`",
    f"- **code version** `{code_version()}`",
] + [
    f"- **{name}**: {r['step']} steps in {r['elapsed_s']:.0f} s on `{r['device']}` "
    f"(code `{r['code_version']}`)"
    for name, r in records.items()
]
Markdown(":::{admonition} How these results were made\n" + "\n".join(lines) + "\n:::")

# %% [markdown]
# ## Summary
#
# - The skips sharpen the outline stage by stage; the boundary F-score shows it more clearly than IoU.
# - Fine-tuning on composites takes the network from white paper to scenes it has never seen.
# - The final network is a tool: `fcn-sneakers segment` masks and cuts out sneakers in any photo. It
#   does that well for rendered sneakers and for real shots on white; on real sneakers in real scenes
#   it is much weaker, as the real-photo section shows wherever real photographs are at hand.
#
# The {doc}`../gallery` collects the figures of this notebook.
#
# ## Exercises
#
# 1. Photograph a sneaker of your own, on a plain floor and on a busy one, and run
#    `fcn-sneakers segment` on both. Which of the failure kinds of {doc}`06_backgrounds` do you see?
# 2. Score the final network with `fcn-sneakers evaluate` on a few photos you mask by hand (any
#    0/255, 0/1 or RGB mask). How far is it from the validation composites' score, and why?
# 3. Change one setting that should not matter to a sneaker detector (say `restyle = 0` in
#    {doc}`06_backgrounds`), rerun both chapters, and compare this notebook's tables before and after.
