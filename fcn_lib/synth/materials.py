"""What the surfaces look like: material patterns, textures from real photographs, and light.

A network learns whatever separates sneakers from the rest, and a renderer's flat colours and one dot
pattern are easy to separate. So the materials vary (leather grain and creases, mesh, knit, suede,
canvas) and a share of the panels carry the texture of a real photograph, taken from the *training*
scene photos that ship in installed wheels (never the validation ones): texture then says little,
and the network has to rely on what a sneaker's shape and parts are (domain randomisation). The light
gives every part a rounded, lit form with a soft self-shadow and, on smooth leather, a sheen.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image
from scipy import ndimage

from fcn_lib.images import load_photo
from fcn_lib.scenes import embedded_scenes


def _noise(rng: np.random.Generator, shape, blur: float) -> np.ndarray:
    field = rng.standard_normal(shape).astype(np.float32)
    if blur > 0:
        field = ndimage.gaussian_filter(field, blur)
        field /= field.std() + 1e-6
    return field


@functools.cache
def photo_textures(side: int = 192) -> tuple[np.ndarray, ...]:
    """Every training scene photo (RGB float) at ``side`` × ``side`` px, loaded once per process."""
    textures = []
    for scene in embedded_scenes("train"):
        rgb = np.asarray(Image.fromarray(load_photo(scene.path).rgb).resize((side, side), Image.BILINEAR),
                         np.float32)
        textures.append(rgb)
    return tuple(textures)


def _photo_crop(rng: np.random.Generator, shape) -> np.ndarray:
    """A random crop of a random training photo, stretched to ``shape``: H×W×3 float 0..255."""
    textures = photo_textures()
    source = textures[rng.integers(len(textures))]
    side = int(rng.integers(48, source.shape[0]))
    top, left = rng.integers(0, source.shape[0] - side + 1, 2)
    crop = Image.fromarray(source[top:top + side, left:left + side].astype(np.uint8))
    if rng.random() < 0.5:
        crop = crop.rotate(90)
    return np.asarray(crop.resize(shape[::-1], Image.BILINEAR), np.float32)


def pattern(material: str, shape, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A multiplicative brightness pattern around 1 (H×W float32); ``scale``: pixels per 0.01 of shoe
    length, so that a stitch or a hole has the same size on the shoe whatever the image size."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fine = _noise(rng, shape, 0.6)
    if material == "leather":
        grain = 0.03 * _noise(rng, shape, 0.5 * scale)
        creases = np.zeros(shape, np.float32)
        for _ in range(int(rng.integers(2, 6))):
            angle, offset = rng.uniform(-0.6, 0.6), rng.uniform(0, w)
            line = np.abs((xx - offset) * np.cos(angle) + (yy - h * 0.5) * np.sin(angle))
            creases += np.exp(-(line / (0.25 * scale)) ** 2) * rng.uniform(0.02, 0.06)
        return 1.0 + grain + 0.015 * fine - creases
    if material == "mesh":
        period, angle = rng.uniform(0.8, 1.6) * scale, rng.uniform(0, np.pi)
        a = xx * np.cos(angle) + yy * np.sin(angle)
        b = -xx * np.sin(angle) + yy * np.cos(angle)
        holes = (np.sin(a * 2 * np.pi / period) * np.sin(b * 2 * np.pi / period)) > rng.uniform(0.3, 0.6)
        return 1.0 - rng.uniform(0.12, 0.3) * holes.astype(np.float32) + 0.02 * fine
    if material == "knit":
        period = rng.uniform(0.5, 0.9) * scale
        rows = np.sin(2 * np.pi * yy / period + 0.8 * np.sin(2 * np.pi * xx / (1.7 * period)))
        heather = _noise(rng, shape, 0.8)
        return 1.0 + 0.07 * rows + rng.uniform(0.04, 0.1) * heather
    if material == "suede":
        return 1.0 + 0.06 * _noise(rng, shape, 2.5 * scale) + 0.05 * fine
    if material == "canvas":
        period = rng.uniform(0.35, 0.6) * scale
        weave = np.sign(np.sin(2 * np.pi * xx / period)) * np.sign(np.sin(2 * np.pi * yy / period))
        return 1.0 + 0.04 * weave + 0.03 * fine
    if material == "photo":
        grey = _photo_crop(rng, shape).mean(-1)
        detail = grey - ndimage.gaussian_filter(grey, 3 * scale)
        return 1.0 + rng.uniform(0.1, 0.3) * detail / (detail.std() + 1e-6)
    raise ValueError(f"unknown material {material!r}")


def photo_colours(rng: np.random.Generator, shape) -> np.ndarray:
    """Colours from a real photograph for a whole panel (H×W×3, 0..255): the strongest randomisation."""
    return _photo_crop(rng, shape)


def relief(mask: np.ndarray, radius: float) -> np.ndarray:
    """A rounded height field over ``mask``: 0 at the outline, 1 from ``radius`` pixels inside, with
    the profile of a quarter circle (a padded, curved surface rather than a flat cut-out)."""
    distance = ndimage.distance_transform_edt(mask)
    inside = np.clip(distance / max(radius, 1.0), 0, 1)
    return np.sqrt(1 - (1 - inside) ** 2).astype(np.float32)


def shade(height: np.ndarray, light: tuple[float, float], shine: float, depth: float) -> tuple:
    """``(diffuse, specular)`` of a height field under one light: ``light`` is (azimuth from the top,
    elevation) in degrees, ``depth`` how many pixels a height of 1 stands out."""
    gy, gx = np.gradient(ndimage.gaussian_filter(height, 1.0) * depth)
    normal = np.stack([-gx, gy, np.ones_like(gx)], -1)  # y grows downwards in the image
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    azimuth, elevation = np.deg2rad(light[0]), np.deg2rad(light[1])
    towards = np.array([np.sin(azimuth) * np.cos(elevation), np.cos(azimuth) * np.cos(elevation),
                        np.sin(elevation)], np.float32)
    lambert = np.clip(normal @ towards, 0, 1)
    halfway = towards + np.array([0, 0, 1], np.float32)
    halfway /= np.linalg.norm(halfway)
    specular = shine * np.clip(normal @ halfway, 0, 1) ** 24
    return 0.72 + 0.4 * lambert, specular
