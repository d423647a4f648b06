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
# # Masks for free: thresholding the white
#
# A segmentation network learns from pairs of an image and its *mask*, the picture that says which pixels
# belong to the object. Drawing masks by hand takes minutes per image. Product photos offer a shortcut:
# the sneaker stands on a plain white background, so "everything that is not white" is already a mask.
# This notebook makes masks that way, measures how good they are, finds where the simple rule breaks,
# and repairs it.
#
# **You will learn** how the seed's white threshold works, why it fails on white shoes and shadows, and
# how a few classical image-processing steps (a fitted backdrop, a flood fill from the border and a
# sub-pixel outline decision) make it reliable.
#
# **You should know:** NumPy arrays and images as arrays of pixels; no deep learning yet.
#
# **Prerequisites:** none; this is the first notebook. It writes the catalogue that later notebooks use.
#
# | profile | catalogue | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | 24 sneakers | seconds |
# | `cpu` | 1,000 sneakers | see {doc}`../setup` |
# | `full` | UT-Zappos50K's sneaker photos, masked here | minutes |

# %% tags=["parameters"]
profile = "cpu"
seed = 0
sneakers = "embedded"
catalog_count = 1000
catalog_size = 224
mask_method = "robust"

# %% [markdown]
# The cell above holds this notebook's parameters; papermill replaces them when it runs the notebook
# under another profile. The next cell loads the package every notebook shares and records the settings.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

from fcn_lib import masks, metrics, paths, viz
from fcn_lib.catalog import load_catalog, prepare_catalog
from fcn_lib.config import from_notebook, provenance, seed_everything
from fcn_lib.images import list_images

config = from_notebook(globals())
seed_everything(config.seed)
artifacts = paths.artifacts_dir(config.profile)

# %% [markdown]
# ## The catalogue
#
# The original work used 4,500 product photos of sneakers on white. Those photos belong to their
# retailers, so the book ships a stand-in (the `full` profile uses UT-Zappos50K's sneaker photos instead,
# fetched by `fcn-sneakers fetch zappos50k`): `fcn_lib.synth` renders catalogue photographs. Each sneaker
# is built from the parts a real one has (a thick midsole, an outsole with lugs, a toe box, a heel
# counter, a padded collar, the tongue, an eyestay with eyelets and laces, overlays with stitching, a
# logo), made of leather, mesh, knit, suede or canvas, or carrying the texture of a real photograph,
# and lit from above so that it has a rounded, shaded form. Most are side views; some are turned three
# quarters, seen slightly from above, or a pair. The paper is white, off-white or light grey, with a
# contact shadow and sometimes the reflection of a glossy floor. Because the renderer knows which
# pixels it painted, every photo comes with an **exact** mask, and that lets us *measure* any masking
# rule. The catalogue is rendered once and cached under `data/cache`.

# %%
catalog = load_catalog(
    prepare_catalog("embedded", config.catalog_count, config.catalog_size, config.seed)
)
images, truths, white = catalog.images, catalog.masks, catalog.is_white
print(
    f"{len(catalog)} photos of {config.catalog_size}x{config.catalog_size} px; "
    f"{white.mean():.0%} have white uppers"
)

# %% mystnb={"figure": {"caption": "Six catalogue photos, three of them white uppers, with their exact masks below them.", "name": "fig-catalogue"}}
shown = [*np.flatnonzero(~white)[:3], *np.flatnonzero(white)[:3]]
viz.grid([images[i] for i in shown] + [truths[i] for i in shown], columns=len(shown))
plt.show()

# %% [markdown]
# ## The seed's rule: threshold the white
#
# A pixel is background when all three channels are within a small `tolerance` of pure white (255);
# everything else is sneaker. Here is the rule in full; the package's `seed_mask` is the same line, which
# the `assert` checks on every photo.


# %%
def threshold_white(image, tolerance=20):
    background = (image >= 255 - tolerance).all(axis=-1)
    return ~background


assert all(np.array_equal(threshold_white(im), masks.seed_mask(im)) for im in images)

# %% [markdown]
# To score a mask we use the *intersection over union* (IoU) with the exact mask: the pixels both call
# sneaker divided by the pixels either calls sneaker. 1.0 is perfect.

# %%
seed_iou = np.array(
    [
        metrics.binary_iou(masks.seed_mask(im), t)
        for im, t in zip(images, truths, strict=True)
    ]
)
print(
    f"seed rule: mean IoU {seed_iou.mean():.3f} "
    f"(white uppers {seed_iou[white].mean():.3f}, "
    f"others {seed_iou[~white].mean():.3f})"
)

# %% [markdown]
# ## Where it fails
#
# The error maps of {numref}`fig-seed-failures` show the seed rule's mistakes on the photos it gets most wrong: **red** pixels
# are background it calls sneaker, **blue** pixels are sneaker it misses. Paper greyer than the
# tolerance allows turns the whole frame red, and so does a shadow under the sole, which is darker than
# the paper. White uppers turn blue: a white shoe *is* within the tolerance of white.

# %% mystnb={"figure": {"caption": "The seed rule's worst cases. Top: photos; bottom: errors (red = extra, blue = missed).", "name": "fig-seed-failures"}}
worst = np.argsort(seed_iou)[:6]
viz.grid(
    [images[i] for i in worst]
    + [viz.error_map(masks.seed_mask(images[i]), truths[i]) for i in worst],
    titles=[f"IoU {seed_iou[i]:.2f}" for i in worst] + [""] * len(worst),
    columns=len(worst),
)
plt.show()

# %% [markdown]
# ## A robust rule
#
# Four ideas fix it, each a few lines in `fcn_lib.masks`:
#
# 1. **Learn the backdrop from the border.** Product photos have nothing but backdrop along their edges,
#    so a smooth surface fitted to the border pixels gives the paper's colour everywhere, grey or graded.
#    A photo whose border does not fit one smooth colour is refused instead of masked badly.
# 2. **Background-like pixels** are close to that colour, or are a soft, colourless darkening of it: a
#    shadow keeps the paper's hue and has no sharp edges, while a shoe's outline is sharp.
# 3. **Flood from the border.** Background is only what is *connected to the border* through
#    background-like pixels, so a white toe cap enclosed by the shoe's outline stays sneaker. The flood
#    first runs through a slightly narrowed region, so it cannot leak through a one-pixel gap.
# 4. **Decide the outline to the sub-pixel.** An edge pixel is a blend of shoe and paper; it is kept when
#    it is more than half shoe, which is exactly how the true mask is defined.
#
# Here are the intermediate pictures for one white shoe.

# %% mystnb={"figure": {"caption": "The robust rule on a white shoe, step by step.", "name": "fig-robust-steps"}}
example = images[np.flatnonzero(white)[0]] if white.any() else images[0]
height, width, _ = example.shape
settings = masks.RobustSettings()
frame = masks.border_pixels(
    (height, width), max(2, round(settings.border * min(height, width)))
)
backdrop, plain = masks.fit_backdrop(example, frame, settings.tolerance)
candidates = masks.background_like(example, backdrop, settings)
robust_example = masks.robust_mask(example)
viz.grid(
    [example, np.abs(example - backdrop).max(-1), candidates, robust_example],
    titles=["photo", "distance to backdrop", "background-like", "robust mask"],
    columns=4,
)
plt.show()

# %% [markdown]
# ## Measured on the whole catalogue

# %%
robust_iou = np.array(
    [
        metrics.binary_iou(masks.robust_mask(im), t)
        for im, t in zip(images, truths, strict=True)
    ]
)
study = {
    "seed": {
        "all": seed_iou.mean(),
        "white": seed_iou[white].mean(),
        "other": seed_iou[~white].mean(),
    },
    "robust": {
        "all": robust_iou.mean(),
        "white": robust_iou[white].mean(),
        "other": robust_iou[~white].mean(),
    },
}
Markdown(
    "| method | all | white uppers | other uppers |\n|---|---|---|---|\n"
    + "\n".join(
        f"| {name} | {row['all']:.3f} | {row['white']:.3f} | {row['other']:.3f} |"
        for name, row in study.items()
    )
)

# %% mystnb={"figure": {"caption": "Mask IoU against the exact masks, per photo.", "name": "fig-iou-histogram"}}
figure, axis = plt.subplots(figsize=(7, 3))
bins = np.linspace(min(seed_iou.min(), robust_iou.min()), 1, 40)
axis.hist(seed_iou, bins, alpha=0.6, label="seed rule")
axis.hist(robust_iou, bins, alpha=0.6, label="robust rule")
axis.set_xlabel("IoU with the exact mask")
axis.set_ylabel("photos")
axis.legend()
plt.show()

# %% [markdown]
# One kind of photo defeats both rules. A shoe on a glossy floor stands on its own reflection, which
# has the shoe's colours: it is neither paper nor a soft, colourless shadow, so the robust rule keeps
# it as sneaker, and no rule that looks only at colours can do better.

# %%
glossy = np.array([item.get("reflection", 0) > 0 for item in catalog.info["items"]])
if glossy.any():
    print(
        f"{glossy.sum()} photos on a glossy floor: robust IoU {robust_iou[glossy].mean():.3f}, "
        f"against {robust_iou[~glossy].mean():.3f} for the other {(~glossy).sum()}"
    )

# %% [markdown]
# White shoes are where the two rules differ most. Below, the white uppers of the catalogue: the seed
# rule (middle row) loses the parts of the upper that are within its tolerance of white, and takes
# the shadow; the robust rule (bottom row) keeps the enclosed white and leaves the shadow out.

# %% mystnb={"figure": {"caption": "White uppers: photos, seed-rule errors, robust-rule errors (red = extra, blue = missed).", "name": "fig-white-shoes"}}
whites = np.flatnonzero(white)[:6]
viz.grid(
    [images[i] for i in whites]
    + [viz.error_map(masks.seed_mask(images[i]), truths[i]) for i in whites]
    + [viz.error_map(masks.robust_mask(images[i]), truths[i]) for i in whites],
    titles=[f"seed {seed_iou[i]:.2f} / robust {robust_iou[i]:.2f}" for i in whites]
    + [""] * (2 * len(whites)),
    columns=max(len(whites), 1),
)
plt.show()

# %% [markdown]
# The study is saved beside the other artefacts of this profile, with the settings and code version
# that produced it.

# %%
record = {
    **provenance(config),
    "mask_iou": study,
    "photos": len(catalog),
    "white_photos": int(white.sum()),
}
artifacts.mkdir(parents=True, exist_ok=True)
(artifacts / "mask_study.json").write_text(json.dumps(record, indent=1))
print("saved", (artifacts / "mask_study.json").relative_to(paths.repo_root()))

# %% [markdown]
# ## Real catalogue photos
#
# The same function masks real product photos. When a folder of them is available (the profile's
# `sneakers` setting, or the developers' `../shared/data` beside the checkout) the grid below shows the
# robust masks on white and on light-grey studio backdrops; the pink tint marks what the mask calls
# background. Photos with transparency are cut out by their alpha channel.

# %%
real_folders = []
if (
    config.sneakers != "embedded"
):  # the profile trains on real photos: prepare their catalogue now
    prepared = prepare_catalog(
        config.sneakers, size=config.catalog_size, method=config.mask_method
    )
    info = json.loads((prepared / "catalog.json").read_text())
    print(
        f"{config.sneakers}: {len(info['items'])} photos masked, "
        f"{len(info['skipped'])} skipped"
    )
    real_folders.append(paths.resolve(config.sneakers))
shared = paths.shared_data_dir()
if shared is not None:
    real_folders += [shared / "sneakers_white", shared / "sneakers_grey"]
real_files = [
    f for folder in real_folders if folder.is_dir() for f in list_images(folder)[:9]
]
print(
    f"{len(real_files)} real photos found"
    if real_files
    else "no real photos here: skipping this part"
)

# %% mystnb={"figure": {"caption": "Robust masks on real product photos (background tinted).", "name": "fig-real-masks"}}
outcomes = list(masks.mask_files(real_files, config.mask_method))
if real_files:
    for outcome in outcomes:
        if outcome.error:
            print("skipped:", outcome.error)
    viz.grid(
        [viz.overlay(o.photo.rgb, o.mask) for o in outcomes if o.error is None],
        columns=6,
    )
    plt.show()

# %% [markdown]
# ## Rendered and real, side by side
#
# A network trained on rendered sneakers is only useful if it also knows real ones (the test of
# {doc}`06_backgrounds` and {doc}`07_results`). The top row shows rendered photos chosen to cover the
# kinds of view; the bottom row, when real photos are at hand, real catalogue shots.

# %% mystnb={"figure": {"caption": "Rendered catalogue photos (top) and, where real photos are available, real ones (bottom).", "name": "fig-rendered-and-real"}}
views = [item["view"] for item in catalog.info["items"]]
pairs = [item["pair"] for item in catalog.info["items"]]
chosen = [
    views.index(view) for view in ("side", "three_quarter", "above") if view in views
]
chosen += [pairs.index(True)] if True in pairs else []
chosen += [i for i in range(len(catalog)) if i not in chosen][: 6 - len(chosen)]
tiles = [images[i] for i in chosen]
tiles += [o.photo.rgb for o in outcomes if o.error is None][:6] if real_files else []
viz.grid(tiles, columns=len(chosen))
plt.show()

# %% [markdown]
# ## From the command line
#
# To mask your own folder of product photos:
#
# ```bash
# fcn-sneakers masks path/to/photos --out path/to/masks            # robust, the default
# fcn-sneakers masks path/to/photos --out path/to/masks --method seed
# ```
#
# It writes `<stem>.png` (0/255, the photo's own size) for every photo, lists skipped files and the
# reason in `summary.json`, and exits non-zero if any file was skipped. A corrupt file never stops the
# rest.
#
# ## Summary
#
# - Product photos on white give masks for free, but "not white" is not the same as "sneaker": white
#   shoes lose their uppers and shadows join the shoe.
# - Fitting the backdrop from the border, flooding from the border and deciding the outline to the
#   sub-pixel make the masks nearly exact on the catalogue, white shoes included.
# - A network learns whatever its masks say, errors included. The embedded catalogue trains on its
#   exact masks; the robust rule's masks are what it learns from when the profile's `sneakers` setting
#   points at a folder of real product photos (and what the real photos of later chapters are scored
#   against).
#
# ## Exercises
#
# 1. Raise the seed rule's `tolerance` to 40. Which failure gets better and which gets worse?
# 2. Set `RobustSettings(shadow_depth=0)` and find the photos whose IoU drops most. What do they share?
# 3. Photograph a shoe of your own on a sheet of paper and run `fcn-sneakers masks` on it.
