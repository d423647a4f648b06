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
# # Scenes for free: pasting sneakers onto photographs
#
# A network trained only on white backgrounds has never seen a pavement, a carpet or a crowd. Labelled
# street photos of sneakers are rare, but we can make them: cut each catalogue sneaker out with its mask
# and paste it onto a photograph of a scene. The mask of the pasted sneaker *is* the label of the new
# image. The original work pasted onto PASCAL VOC 2012 {cite:p}`everingham2010voc` scenes at random
# scales and positions; this notebook does the same, shows what such pasting teaches a network by
# accident, and adds the remedies the original conclusion asked for.
#
# **You will learn** the alpha-blended paste, why a hard paste seam and uniform placement are shortcuts a
# network can exploit, and how the training and validation sets are kept apart.
#
# **You should know:** NumPy, and the catalogue of chapter 01; compositing is explained here. No deep
# learning yet.
#
# **Prerequisites:** {doc}`01_sneaker_masks` (it prepares the catalogue; this notebook reuses the cache
# or makes it).
#
# | profile | composites shown and counted | time on 2 CPU cores |
# |---|---|---|
# | `smoke` | a few hundred at 64 px | seconds |
# | `cpu` | a few hundred at 128 px | see {doc}`../setup` |
# | `full` | a few hundred at 224 px | about a minute |

# %% tags=["parameters"]
profile = "cpu"
seed = 0
sneakers = "embedded"
catalog_count = 1000
catalog_size = 224
mask_method = "robust"
backgrounds = "embedded"
image_size = 128
val_fraction = 0.2

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from myst_nb import glue

from fcn_lib import compose, data, scenes, stages, viz
from fcn_lib.catalog import load_catalog, prepare_catalog
from fcn_lib.config import from_notebook, seed_everything

config = from_notebook(globals())
seed_everything(config.seed)

# %% [markdown]
# ## Background scenes
#
# By default the scenes are real photographs that ship inside two installed Python packages
# (scikit-image and scikit-learn), so the book runs offline; set the profile's `backgrounds` to a
# `VOCdevkit` folder to use PASCAL VOC 2012 as the original did, or to any folder of photos.
#
# A validation score only means something if the validation images are new to the network. So the split
# is made **by source photograph**: no scene appears in both splits, not even as a different crop. (The
# two motorcycle pictures are a stereo pair of one scene, so they stay together.) VOC brings its own
# split lists; a plain folder is split by a hash of each file name.

# %%
train_scenes = scenes.scenes_for(config.backgrounds, "train", config.val_fraction)
val_scenes = scenes.scenes_for(config.backgrounds, "val", config.val_fraction)
assert not {s.source for s in train_scenes} & {s.source for s in val_scenes}
print(f"{len(train_scenes)} training scenes, {len(val_scenes)} validation scenes")

# %% mystnb={"figure": {"caption": "The background scenes and their split.", "name": "fig-scenes"}}
train_pixels = data.load_scenes(train_scenes, config.image_size)
val_pixels = data.load_scenes(val_scenes, config.image_size)
viz.grid(
    train_pixels[:8] + val_pixels[:4],
    titles=[f"train: {s.name}" for s in train_scenes[:8]]
    + [f"val: {s.name}" for s in val_scenes[:4]],
    columns=6,
)
plt.show()

# %% [markdown]
# ## Procedural clutter
#
# A handful of photographs is little to learn "not a sneaker" from. Training composites are therefore
# also drawn on `procedural_scenes` generated clutter scenes (`fcn_lib.scenes.procedural_scene`:
# shapes, stripes, textures and gradients in random colours), and the photographs are repeated so that
# they still make about half of all draws. Validation composites use the validation photographs alone,
# so their score is a score on real scenes, never on clutter.

# %%
pool, photographs = stages.scene_pool(config, "train")
glue("clutter_count", f"{len(pool) - photographs:,}", display=False)
glue("photo_share", f"{photographs / len(pool):.0%}", display=False)
print(
    f"training draws on {len(pool):,} scenes: {len(train_scenes)} photographs ({photographs:,} with "
    f"their repeats, {photographs / len(pool):.0%}) and {len(pool) - photographs:,} clutter scenes; validation on "
    f"{len(val_scenes)} photographs: {', '.join(s.name for s in val_scenes)}"
)

# %% mystnb={"figure": {"caption": "Procedural clutter scenes, drawn on in training beside the photographs.", "name": "fig-clutter"}}
viz.grid(pool[photographs : photographs + 6], columns=6)
plt.show()

# %% [markdown]
# In this build the photographs are {glue:text}`photo_share` of the training draws, beside
# {glue:text}`clutter_count` clutter scenes ({numref}`fig-clutter`). With the embedded scenes the
# validation photographs are few, and two of them (the motorcycle pair) show one scene, so the
# scene side of every validation score rests on a handful of pictures: {doc}`06_backgrounds` scores
# them one by one to show how much each contributes.

# %% [markdown]
# ## Cut out the sneakers
#
# Each catalogue sneaker becomes a *cut-out*: its photo cropped to the mask's bounding box, with the mask
# as the alpha (opacity) channel. The catalogue is split too, with a fixed seed, so validation composites
# show sneakers *and* scenes the network never trained on.

# %%
catalog = load_catalog(
    prepare_catalog(
        config.sneakers,
        config.catalog_count,
        config.catalog_size,
        config.seed,
        config.mask_method,
    )
)
train_items, val_items = catalog.split(config.val_fraction, config.seed)
train_cutouts = data.catalog_cutouts(catalog, train_items)
val_cutouts = data.catalog_cutouts(catalog, val_items)
print(f"{len(train_cutouts)} training and {len(val_cutouts)} validation sneakers")

# %% [markdown]
# ## The paste, written out
#
# Pasting is a weighted average. Where the sneaker's opacity $\alpha$ is 1 the new pixel is the
# sneaker's, where it is 0 the scene's, and in between a blend:
#
# $$ \text{image} = \alpha \cdot \text{sneaker} + (1 - \alpha) \cdot \text{scene} $$
#
# The label is *sneaker* wherever the sneaker is more than half opaque. Here it is on one scene, by hand;
# the `assert` checks that `fcn_lib.compose.paste`, which the datasets use, does exactly this.

# %%
size = config.image_size
rng = np.random.default_rng(config.seed)
scene = compose.scene_crop(train_pixels[0], size, rng, compose.PasteSettings())
sneaker, alpha, _ = compose.styled_sneaker(
    train_cutouts[0], size // 2, rng, compose.PasteSettings()
)
x, y = size // 4, size // 2 - alpha.shape[0] // 2
h, w = alpha.shape

by_hand = scene.copy()
region = by_hand[y : y + h, x : x + w]
by_hand[y : y + h, x : x + w] = (
    alpha[..., None] * sneaker + (1 - alpha[..., None]) * region
)
label = np.zeros((size, size), bool)
label[y : y + h, x : x + w] = alpha >= 0.5

library, library_label = scene.copy(), np.zeros((size, size), bool)
compose.paste(library, library_label, sneaker, alpha, x, y)
assert np.allclose(by_hand, library) and np.array_equal(label, library_label)

# %% mystnb={"figure": {"caption": "One paste: the scene, the sneaker's alpha, the composite and its label.", "name": "fig-one-paste"}}
viz.grid(
    [scene.astype(np.uint8), alpha, by_hand.clip(0, 255).astype(np.uint8), label],
    columns=4,
    titles=["scene", "alpha", "composite", "label"],
)
plt.show()

# %% [markdown]
# ## Seams
#
# A cut-out with a hard edge leaves a seam: a one-pixel jump from shoe to scene that no photograph has.
# A network can learn "find the seam" instead of "find the sneaker", and then fail on real photos. A
# *feathered* edge (the alpha blurred by a pixel or so) blends shoe and scene the way a lens does, while
# the label stays where it was, because it is taken at half opacity.


# %% mystnb={"figure": {"caption": "Hard paste (left) and feathered paste (right), magnified.", "name": "fig-seams"}}
def close_up(feather):
    settings = compose.PasteSettings(
        feather=feather, jitter=0.0, flip=0.0, empty=0.0, scale=(0.6, 0.6)
    )
    image, label, _ = compose.compose(
        train_pixels[1], train_cutouts[:1], 4 * size, np.random.default_rng(1), settings
    )
    rows, cols = np.nonzero(label)
    top, middle, half = rows.min(), int(cols.mean()), size // 3
    return image[max(top - half, 0) : top + half, max(middle - half, 0) : middle + half]


viz.grid(
    [close_up(0.0), close_up(1.5)],
    titles=["hard edge", "feathered edge"],
    columns=2,
    tile=3.5,
)
plt.show()

# %% [markdown]
# ## Random composites
#
# Every composite draws a scene crop (random size and place, maybe mirrored), then one or more sneakers
# with a random width (log-uniform between a fifth and four fifths of the image), position, mirror image
# and a small colour jitter. One composite in ten has no sneaker at all, so that "there is always a
# sneaker" is not a rule the network can rely on. The pink tint marks what the label calls background.

# %% mystnb={"figure": {"caption": "Training composites with their labels (background tinted).", "name": "fig-composites"}}
train_set = data.CompositeDataset(
    train_cutouts,
    train_pixels,
    length=12,
    size=size,
    seed=config.seed,
    settings=compose.PasteSettings(max_sneakers=2),
)
examples = [train_set.composite(i) for i in range(12)]
viz.grid(
    [viz.overlay(image, label) for image, label, _ in examples],
    titles=[f"{len(placed)} sneaker(s)" for _, _, placed in examples],
    columns=6,
)
plt.show()

# %% [markdown]
# ## The placement bias
#
# The original pasted sneakers uniformly at random and warned that the network might learn *where*
# sneakers are rather than *what* they look like. The heat maps count, over a few hundred composites, how
# often each pixel is labelled sneaker. Uniform placement favours the centre (a large sneaker can only
# fit there) and puts shoes in the sky as often as on the floor. The ground prior places the sole mostly
# in the lower half of the frame, where feet are in photographs; it is an option, not the default,
# because a prior is also a bias: a network trained only with it may miss a shoe held up to the camera.


# %%
def heat_map(settings, count=300):
    dataset = data.CompositeDataset(
        train_cutouts, train_pixels, count, size, config.seed, settings
    )
    return np.mean([dataset.composite(i)[1] for i in range(count)], axis=0)


uniform = heat_map(compose.PasteSettings(empty=0.0))
ground = heat_map(compose.PasteSettings(empty=0.0, placement="ground"))

# %% mystnb={"figure": {"caption": "How often each pixel is sneaker: uniform placement and the ground prior.", "name": "fig-placement-heat"}}
figure, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for axis, (name, heat) in zip(
    axes, [("uniform (seed)", uniform), ("ground prior", ground)], strict=True
):
    shown = axis.imshow(
        heat, cmap="magma", vmin=0, vmax=max(uniform.max(), ground.max())
    )
    axis.set_title(name)
    axis.set_axis_off()
figure.colorbar(shown, ax=axes, fraction=0.03, label="share of composites")
plt.show()

# %% [markdown]
# ## Datasets for training
#
# `fcn_lib.data.CompositeDataset` makes composites on the fly, in DataLoader worker processes if asked.
# Every item is a pure function of the dataset's seed and the item's key. Validation uses the keys
# 0, 1, 2, ... (validation sneakers on validation scenes), so the validation set is identical on every
# run; training asks for `(step, slot)` keys, so every step sees new composites and a resumed run sees
# exactly the batches it would have seen. Each item is the image as bytes and a mask of 0 and 1: a
# quarter of the floats' size to pass from the workers to the GPU, where `fcn_lib.data.to_model`
# normalises them for the network.

# %%
val_set = data.CompositeDataset(
    val_cutouts, val_pixels, length=64, size=size, seed=config.seed + 1
)
images, masks = next(iter(data.evaluation_loader(val_set, batch_size=8)))
again, _ = next(iter(data.evaluation_loader(val_set, batch_size=8)))
assert torch.equal(images, again)
print(
    f"a batch: images {tuple(images.shape)} {images.dtype}, "
    f"masks {tuple(masks.shape)} {masks.dtype}; "
    f"sneaker pixels {masks.float().mean():.1%}"
)

# %% [markdown]
# How fast compositing is, and whether the loader workers keep a GPU fed, is measured beside the
# package rather than here (`python -m benchmarks composite --size 224`; {doc}`../gpu` has the GPU
# machine's figures).
#
# ## Summary
#
# - Pasting a masked sneaker onto a scene makes a labelled image; the label is the paste's alpha at one
#   half.
# - Hard edges and uniform placement are shortcuts a network can learn; feathering, flips, colour
#   jitter, empty scenes and several sneakers take them away, and the ground prior is there to try.
# - Scenes and sneakers are split by source, and validation composites are fixed, so the validation
#   score measures generalisation.
#
# ## Exercises
#
# 1. Train-time only: how would you check whether a network has learned the paste seam? (Hint: paste
#    a patch of *scene* with a hard edge and see whether it is called sneaker.)
# 2. Make a heat map with `max_sneakers=3`. Why does the centre get hotter still?
# 3. Point `backgrounds` at a folder of your own photos and look at the composites.
