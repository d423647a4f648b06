"""Objects that are not sneakers, drawn like the sneakers are.

Pasted into training scenes and labelled background, they take away the easiest rule a network could
learn from rendered sneakers: "a clean, shaded, pasted object is a sneaker". What is left to tell a
sneaker from them is its shape and its parts (the cut-and-paste recipe of Dwibedi et al., 2017).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from fcn_lib.synth.design import MATERIALS
from fcn_lib.synth.geometry import smooth
from fcn_lib.synth.materials import pattern, relief, shade


def blob(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A random smooth closed shape filling most of a ``height`` × ``width`` box (bool mask)."""
    corners = int(rng.integers(4, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = rng.uniform(0.5, 1.0, corners)
    outline = smooth(np.stack([0.5 + 0.48 * radii * np.cos(angles), 0.5 + 0.48 * radii * np.sin(angles)], 1))
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).polygon([(x * width, y * height) for x, y in outline], fill=255)
    mask = np.asarray(image) > 127
    if not mask.any():
        mask = np.ones((height, width), bool)
    return mask


def shaded_object(width: int, height: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A blob of one colour in one of the sneakers' materials, lit like them: ``(rgb float, mask)``."""
    mask = blob(width, height, rng)
    colour = rng.uniform(0, 255, 3).astype(np.float32)
    surface = pattern(str(rng.choice(MATERIALS)), (height, width), rng, scale=max(width, 8) / 40)
    diffuse, specular = shade(relief(mask, 0.15 * min(width, height)), (rng.uniform(-50, 50), 55), 0.2,
                              0.05 * width)
    return colour * (surface * diffuse)[..., None] + 255.0 * specular[..., None], mask
