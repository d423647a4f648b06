"""Scenes for free: paste masked sneakers onto background photos, with the label that comes with it.

The seed pasted each sneaker at a random scale and position. Its conclusion names what that teaches a
network by accident: paste seams (a hard cut-out edge is a give-away the real world never shows), one
sneaker per image in every image, and positions no photographer would choose. So, besides the seed's
random scale and position, every option it asked for is here: horizontal flips, feathered (alpha-
blended) edges, colour jitter of the sneaker, a share of scenes with no sneaker, several sneakers, and a
ground-plane prior that puts shoes where feet would be.

Two more options serve training on *rendered* sneakers: some sneakers wear the texture of the scene
photo over their own shading (``restyle``), and objects that are not sneakers, pasted the same way, stand
behind them (``distractors``). Together they leave a sneaker's shape and parts, not its rendered look or
the paste edge, as what sets it apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from fcn_lib.synth.distractors import blob, shaded_object

PLACEMENTS = ("uniform", "ground")


@dataclass(frozen=True)
class Cutout:
    """A sneaker cut out of its catalogue photo: RGBA cropped to the mask's bounding box."""

    image: Image.Image
    name: str = ""


def make_cutout(rgb: np.ndarray, mask: np.ndarray, name: str = "") -> Cutout:
    """Crop a photo to its mask and keep the mask as the alpha channel."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError(f"cutout {name!r}: the mask is empty")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    rgba = np.dstack([rgb[top:bottom, left:right], mask[top:bottom, left:right].astype(np.uint8) * 255])
    return Cutout(Image.fromarray(rgba, "RGBA"), name)


@dataclass(frozen=True)
class PasteSettings:
    """How composites are made. The defaults are the book's; ``seed()`` gives the original recipe."""

    scale: tuple[float, float] = (0.22, 0.8)  # sneaker width / image width, drawn log-uniformly
    crop: tuple[float, float] = (0.5, 1.0)  # scene crop side / the scene's shorter side
    flip: float = 0.5  # chance of mirroring the sneaker (and, separately, the scene)
    feather: float = 0.8  # Gaussian blur of the alpha edge, in output pixels; 0 = hard cut
    jitter: float = 0.12  # strength of brightness/contrast/saturation jitter of the sneaker
    scene_jitter: float = 0.2  # the same for the scene, so its colours are not a give-away either
    empty: float = 0.1  # share of composites with no sneaker at all
    max_sneakers: int = 1  # each composite gets 1..max_sneakers sneakers (unless empty)
    placement: str = "uniform"  # "uniform" anywhere, or "ground": lower in the frame, like feet
    # Training only: the share of sneakers that wear a photograph's texture over their own shading, and
    # up to how many objects that are not sneakers are pasted behind them (labelled background).
    restyle: float = 0.0
    distractors: int = 0

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {self.scale}")

    @classmethod
    def seed(cls) -> PasteSettings:
        """The seed's recipe: random scale and position, hard edges, one sneaker in every image."""
        return cls(flip=0.0, feather=0.0, jitter=0.0, scene_jitter=0.0, empty=0.0, max_sneakers=1,
                   placement="uniform")


@dataclass(frozen=True)
class Placement:
    """Where one sneaker went: its box in the composite, and whether it was mirrored."""

    x: int
    y: int
    width: int
    height: int
    flipped: bool
    name: str


def paste(image: np.ndarray, label: np.ndarray, sneaker: np.ndarray, alpha: np.ndarray, x: int, y: int
          ) -> None:
    """Blend ``sneaker`` (h×w×3) into ``image`` (float, H×W×3) with its top-left corner at (x, y).

    ``alpha`` (h×w, 0..1) is the sneaker's opacity: ``image = alpha*sneaker + (1-alpha)*image``. The
    label becomes sneaker wherever the sneaker is more than half opaque, so a feathered edge blends the
    pixels without moving the outline. Parts outside the image are cut off.
    """
    h, w = alpha.shape
    top, left = max(y, 0), max(x, 0)
    bottom, right = min(y + h, image.shape[0]), min(x + w, image.shape[1])
    if bottom <= top or right <= left:
        return
    a = alpha[top - y:bottom - y, left - x:right - x, None]
    region = image[top:bottom, left:right]
    region[:] = a * sneaker[top - y:bottom - y, left - x:right - x] + (1.0 - a) * region
    label[top:bottom, left:right] |= a[..., 0] >= 0.5


def scene_crop(scene: np.ndarray, size: int, rng: np.random.Generator, settings: PasteSettings
               ) -> np.ndarray:
    """A random square crop of the scene (random side and position, maybe mirrored) at size×size."""
    height, width = scene.shape[:2]
    side = max(1, int(min(height, width) * rng.uniform(*settings.crop)))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(np.ascontiguousarray(scene[top:top + side, left:left + side]))
    crop = crop.resize((size, size), Image.BILINEAR)
    if rng.random() < settings.flip:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    return colour_jitter(np.asarray(crop, np.float32), settings.scene_jitter, rng)


def rotate_hue(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Turn every colour by ``degrees`` about the grey axis of RGB space (float RGB): hues shift,
    greys (the white of a catalogue photo) stay exactly as they are. One 3×3 matrix, so it is cheap,
    unlike a round trip through HSV."""
    theta = np.deg2rad(degrees)
    axis = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.cos(theta) * np.eye(3) + (1 - np.cos(theta)) * np.outer(axis, axis) + np.sin(theta) * cross
    return rgb @ rotation.T.astype(np.float32)


def colour_jitter(rgb: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation changes of up to ``strength`` (float RGB)."""
    if strength <= 0:
        return rgb
    brightness, contrast, saturation = 1.0 + strength * rng.uniform(-1, 1, 3)
    # saturation: grey + s*(rgb - grey); then contrast about the mean and brightness, as one affine map
    grey = rgb @ np.full(3, 1 / 3, np.float32)  # a matrix product: much faster than mean(axis=-1)
    offset = contrast * (1 - saturation) * grey + float(rgb.mean()) * (brightness - contrast)
    return np.float32(contrast * saturation) * rgb + offset[..., None].astype(np.float32)


def styled_sneaker(cutout: Cutout, width: int, rng: np.random.Generator, settings: PasteSettings
                   ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Resize a cutout to ``width`` pixels wide, maybe mirror it, feather its edge and jitter its colours.

    Returns ``(rgb float h×w×3, alpha float h×w in 0..1, flipped)``, colour not premultiplied.
    """
    source = cutout.image
    height = max(1, round(source.height * width / source.width))
    sneaker = source.resize((width, height), Image.BILINEAR)  # Pillow resizes RGBA premultiplied
    flipped = bool(rng.random() < settings.flip)
    if flipped:
        sneaker = sneaker.transpose(Image.FLIP_LEFT_RIGHT)
    rgb, alpha = feathered(np.asarray(sneaker.convert("RGB"), np.float32), sneaker.getchannel("A"),
                           settings.feather)
    return colour_jitter(rgb, settings.jitter, rng), alpha, flipped


def feathered(rgb: np.ndarray, alpha: Image.Image, feather: float) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb, alpha float 0..1)`` with the alpha edge blurred by ``feather`` pixels; a transparent
    margin comes first, because blurring a cut-out that fills its box would change nothing."""
    if feather > 0:
        margin = int(np.ceil(3 * feather))
        padded = Image.new("L", (alpha.width + 2 * margin, alpha.height + 2 * margin), 0)
        padded.paste(alpha, (margin, margin))
        alpha = padded.filter(ImageFilter.GaussianBlur(feather))
        rgb = np.pad(rgb, ((margin, margin), (margin, margin), (0, 0)), mode="edge")
    return rgb, np.asarray(alpha, np.float32) / 255.0


def restyled(rgb: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """A sneaker in another texture: ``texture``'s colours under the sneaker's own light and dark
    (its shading, seams and parts), so that it keeps its shape and loses its rendered look."""
    light = rgb.mean(-1, keepdims=True)
    return texture * (light / max(float(light.mean()), 1.0))


def distractor(scene: np.ndarray, size: int, rng: np.random.Generator, settings: PasteSettings
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb, alpha)`` of an object that is not a sneaker: a random smooth shape, cut out of the scene
    photo or shaded like the renderer's sneakers (``fcn_lib.synth.distractors``)."""
    width = max(8, round(size * float(np.exp(rng.uniform(np.log(0.1), np.log(0.5))))))
    height = max(6, round(width * rng.uniform(0.3, 1.2)))
    if rng.random() < 0.5:
        rgb = scene_crop(scene, max(width, height), rng, settings)[:height, :width]
        mask = blob(width, height, rng)
    else:
        rgb, mask = shaded_object(width, height, rng)
    cut = Image.fromarray(mask.astype(np.uint8) * 255)
    rgb, alpha = feathered(np.clip(rgb, 0, 255), cut, settings.feather)
    return colour_jitter(rgb, settings.jitter, rng), alpha


def _position(width: int, height: int, size: int, rng: np.random.Generator, placement: str
              ) -> tuple[int, int]:
    x = int(rng.integers(0, max(size - width, 0) + 1))
    if placement == "ground":
        # Feet stand on the floor: the sole's line falls mostly in the lower half of the frame.
        bottom = height + (size - height) * rng.beta(3.0, 1.2)
        return x, int(round(bottom)) - height
    return x, int(rng.integers(0, max(size - height, 0) + 1))


def compose(scene: np.ndarray, cutouts: list[Cutout], size: int, rng: np.random.Generator,
            settings: PasteSettings | None = None) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """One composite: ``(image uint8 size×size×3, label bool size×size, placements)``.

    All randomness comes from ``rng``, so a composite is a pure function of the generator's seed.
    """
    settings = settings or PasteSettings()
    image = scene_crop(scene, size, rng, settings)
    label = np.zeros((size, size), bool)
    placements = []
    count = 0 if rng.random() < settings.empty else int(rng.integers(1, settings.max_sneakers + 1))
    low, high = np.log(settings.scale[0]), np.log(settings.scale[1])
    for _ in range(int(rng.integers(settings.distractors + 1)) if settings.distractors else 0):
        rgb, alpha = distractor(scene, size, rng, settings)
        x, y = _position(alpha.shape[1], alpha.shape[0], size, rng, "uniform")
        paste(image, np.zeros_like(label), rgb, alpha, x, y)  # pasted, but not a sneaker
    for _ in range(count):
        cutout = cutouts[int(rng.integers(len(cutouts)))]
        width = max(4, round(size * float(np.exp(rng.uniform(low, high)))))
        rgb, alpha, flipped = styled_sneaker(cutout, width, rng, settings)
        if settings.restyle and rng.random() < settings.restyle:  # the scene's texture, its own shading
            texture = scene_crop(scene, max(rgb.shape[:2]), rng, settings)
            rgb = restyled(rgb, texture[:rgb.shape[0], :rgb.shape[1]])
        x, y = _position(alpha.shape[1], alpha.shape[0], size, rng, settings.placement)
        paste(image, label, rgb, alpha, x, y)
        placements.append(Placement(x, y, alpha.shape[1], alpha.shape[0], flipped, cutout.name))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), label, placements
