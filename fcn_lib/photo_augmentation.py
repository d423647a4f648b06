"""How a catalogue photo on white is varied in training: a turn, a shift, a zoom and a colour change,
and, on the scenes stage, a plain backdrop of any colour in place of the white paper.

The backdrop is there because half of every scenes-stage batch is photos on white, so that the network
keeps segmenting sneakers on white. Those photos also teach it that white and light grey are
background, while white and light sneakers are the real ones it most often missed on scenes
(book/tuning.md, ninth round). Behind a share of them the paper becomes a plain backdrop of a colour
drawn from all of RGB (a gradient and a little grain on it), so that whiteness alone no longer marks
background (the thirteenth round measured what that does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fcn_lib.compose import colour_jitter, rotate_hue

BACKDROP_GRADIENT = 80.0  # the most the backdrop's brightness changes from one side to the other
BACKDROP_GRAIN = 6.0  # the most the per-pixel grain's standard deviation is, in levels


@dataclass(frozen=True)
class WhiteAugmentation:
    """Joint image/mask augmentation for catalogue photos: a mirror, a small rotation, shift and zoom
    (the mask follows with nearest neighbours, uncovered paper is white) and a colour change of the
    image only.

    Written with PIL and one colour matrix rather than ``torchvision.transforms.v2`` because it runs
    in the data workers for every training image: about 1.7 ms per 224 px photo on one core instead of
    7.5 (v2's hue jitter alone costs 5 ms), so that a few CPU cores keep a fast GPU fed.
    """

    degrees: float = 6.0
    translate: float = 0.1  # of the image side, in x and in y
    scale: tuple[float, float] = (0.7, 1.1)
    colour: float = 0.2  # brightness, contrast and saturation change (fcn_lib.compose.colour_jitter)
    hue_degrees: float = 10.0

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(uint8 RGB image, bool mask)`` of a uint8 photo and its mask."""
        height, width = mask.shape
        if rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        angle = np.deg2rad(rng.uniform(-self.degrees, self.degrees))
        shift = rng.uniform(-self.translate, self.translate, 2) * (width, height)
        zoom = rng.uniform(*self.scale)
        # PIL maps each output pixel back to the input: p_in = A p_out + b, the inverse of a turn and
        # zoom about the centre followed by the shift.
        centre = np.array([width, height]) / 2
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        inverse = np.array([[cos, sin], [-sin, cos]])
        offset = centre - inverse @ (centre + shift)
        coefficients = (*inverse[0], offset[0], *inverse[1], offset[1])
        picture = Image.fromarray(np.ascontiguousarray(image)).transform(
            (width, height), Image.AFFINE, coefficients, Image.BILINEAR, fillcolor=(255, 255, 255))
        label = Image.fromarray(np.ascontiguousarray(mask).astype(np.uint8)).transform(
            (width, height), Image.AFFINE, coefficients, Image.NEAREST, fillcolor=0)
        rgb = colour_jitter(np.asarray(picture, np.float32), self.colour, rng)
        rgb = rotate_hue(rgb, rng.uniform(-self.hue_degrees, self.hue_degrees))
        return np.rint(np.clip(rgb, 0, 255)).astype(np.uint8), np.asarray(label).astype(bool)


def plain_backdrop(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 height×width×3 backdrop: one colour uniform over RGB, a linear gradient in a random
    direction and grain, as a studio's seamless paper of any colour under uneven light would be."""
    colour = rng.uniform(0, 255, 3)
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width] / max(height, width) - 0.5
    ramp = (np.cos(angle) * x + np.sin(angle) * y) * rng.uniform(0, BACKDROP_GRADIENT)
    grain = rng.normal(0, rng.uniform(0, BACKDROP_GRAIN), (height, width))
    return (colour + (ramp + grain)[..., None]).astype(np.float32)


def on_plain_backdrop(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The uint8 photo with every pixel outside ``mask`` replaced by a :func:`plain_backdrop`; the
    sneaker's pixels, and so the mask, stay as they are."""
    backdrop = plain_backdrop(*mask.shape, rng)
    return np.where(mask[..., None], image, np.rint(np.clip(backdrop, 0, 255)).astype(np.uint8))
