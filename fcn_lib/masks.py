"""Label masks for free: separate a product photo's sneaker from its plain background.

Two methods, side by side, because the difference is the lesson of notebook 01:

``seed``
    The original rule: every pixel within a small range of pure white is background, all else is
    sneaker. It punches holes in white shoes and counts shadows as sneaker.
``robust`` (default)
    Estimate the background colour from the photo's border (a smooth surface per channel, so grey and
    graded backdrops work), call a pixel background-like when it is close to that colour or is a soft,
    colourless darkening of it (a shadow), and keep as background only the background-like pixels
    *connected to the border*. A white toe cap inside a dark outline is therefore sneaker. Holes are
    filled and specks removed. A photo whose border is not a plain light backdrop is refused with a
    reason instead of being given a garbage mask.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from fcn_lib.images import BadImage, Photo, load_photo, write_png

METHODS = ("seed", "robust")


class MaskFailure(ValueError):
    """The photo does not fit the method's assumptions; the message says which one failed."""


def seed_mask(rgb: np.ndarray, tolerance: int = 20) -> np.ndarray:
    """The seed's threshold: sneaker wherever any channel is darker than ``255 - tolerance``."""
    return (rgb < 255 - tolerance).any(axis=-1)


@dataclass(frozen=True)
class RobustSettings:
    border: float = 0.02  # width of the border strip, as a fraction of the shorter side
    tolerance: float = 10.0  # grey levels a background pixel may stray from the fitted backdrop
    shadow_depth: float = 0.35  # a shadow darkens the backdrop by at most this fraction
    shadow_tint: float = 0.05  # and keeps its colour: channel ratios differ by at most this much
    edge_threshold: float = 6.0  # grey levels per pixel: a sharper change is an object's edge
    plain_border: float = 0.85  # at least this share of the border must be backdrop
    min_brightness: float = 170.0  # a backdrop darker than this is not a catalogue background
    gap: float = 0.008  # outline gaps narrower than twice this share of the shorter side are closed
    speck_fraction: float = 0.05  # parts smaller than this share of the largest part are specks


def border_pixels(shape: tuple[int, int], width: int) -> np.ndarray:
    """A boolean image that is True on a frame ``width`` pixels wide."""
    frame = np.zeros(shape, bool)
    frame[:width], frame[-width:], frame[:, :width], frame[:, -width:] = True, True, True, True
    return frame


def _surface_terms(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """1, x, y, x², xy, y²: a smooth backdrop, from flat paper to a curved studio sweep."""
    return [np.ones_like(x), x, y, x * x, x * y, y * y]


def fit_backdrop(rgb: np.ndarray, frame: np.ndarray, tolerance: float) -> tuple[np.ndarray, float]:
    """Fit a quadratic surface per channel to the frame's pixels, refitting on the pixels within
    ``tolerance`` of the previous fit (so a shoe touching the border does not drag it). Returns the
    backdrop image (float32 HxWx3) and the share of frame pixels it explains."""
    h, w, _ = rgb.shape
    ys, xs = np.nonzero(frame)
    design = np.stack(_surface_terms(xs / w, ys / h), axis=1)
    values = rgb[ys, xs].astype(np.float64)
    inliers = np.ones(len(values), bool)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[inliers], values[inliers], rcond=None)
        inliers = np.abs(values - design @ coef).max(axis=1) <= tolerance
        if inliers.sum() < design.shape[1]:
            break
    x = (np.arange(w, dtype=np.float32) / w)[None, :]
    y = (np.arange(h, dtype=np.float32) / h)[:, None]
    terms = _surface_terms(*np.broadcast_arrays(x, y))
    backdrop = np.stack([sum(t * np.float32(c) for t, c in zip(terms, coef[:, k], strict=True))
                         for k in range(3)], axis=-1)
    return backdrop, float(inliers.mean())


def background_like(rgb: np.ndarray, backdrop: np.ndarray, settings: RobustSettings) -> np.ndarray:
    """Pixels that could be backdrop: near its colour, or a soft colourless darkening of it (a shadow)."""
    channels = [rgb[..., c].astype(np.float32) for c in range(3)]
    paper = [np.broadcast_to(backdrop[..., c], rgb.shape[:2]) for c in range(3)]
    distance = np.maximum.reduce([np.abs(p - b) for p, b in zip(channels, paper, strict=True)])
    near = distance <= settings.tolerance
    ratios = [p / np.maximum(b, 1.0) for p, b in zip(channels, paper, strict=True)]
    colourless = np.maximum.reduce(ratios) - np.minimum.reduce(ratios) <= settings.shadow_tint
    shade = sum(ratios) / 3.0
    darker = (shade >= 1.0 - settings.shadow_depth) & (shade <= 1.0)
    luminance = sum(channels) / 3.0
    slope = np.hypot(ndimage.sobel(luminance, 0), ndimage.sobel(luminance, 1)) / 8.0
    soft = ndimage.maximum_filter(slope, size=3) <= settings.edge_threshold
    return near | (colourless & darker & soft)


def robust_mask(rgb: np.ndarray, settings: RobustSettings | None = None) -> np.ndarray:
    """Sneaker = everything not reachable from the border through background-like pixels."""
    settings = settings or RobustSettings()
    h, w, _ = rgb.shape
    frame = border_pixels((h, w), max(2, round(settings.border * min(h, w))))
    backdrop, plain = fit_backdrop(rgb, frame, settings.tolerance)
    brightness = float(backdrop[frame].mean())
    if brightness < settings.min_brightness:
        raise MaskFailure(f"the background is not white or light grey (mean level {brightness:.0f} of 255)")
    if plain < settings.plain_border:
        raise MaskFailure(f"the border is not a plain background (only {plain:.0%} of it matches one "
                          f"colour); crop to a product photo on white")
    candidates = background_like(rgb, backdrop, settings)
    # Flood from the border through candidates narrowed by a few pixels, so the flood cannot leak
    # into a white upper through a gap in its outline, then widen what it reached back again.
    gap = max(1, round(settings.gap * min(h, w)))
    narrowed = ndimage.binary_erosion(candidates, iterations=gap, border_value=1)
    labels, _ = ndimage.label(narrowed)
    touching = np.unique(labels[frame & narrowed])
    reached = np.isin(labels, touching[touching > 0])
    background = ndimage.binary_dilation(reached, iterations=4 * gap, mask=candidates)
    return clean_mask(refine_outline(rgb, ~background), settings)


def refine_outline(rgb: np.ndarray, mask: np.ndarray, band: int = 2) -> np.ndarray:
    """Decide the outline to the sub-pixel: keep an edge pixel only if it is more than half sneaker.

    A pixel on the outline is a blend ``p = a*f + (1-a)*b`` of the sneaker colour ``f`` just inside and
    the background colour ``b`` just outside (the backdrop, or the shadow under the sole). Projecting
    ``p - b`` onto ``f - b`` estimates the share ``a``. The flood fill alone would keep every blended
    pixel and grow the mask by a pixel all round, which costs small sneakers several points of IoU.
    """
    pixels = rgb.astype(np.float32)
    window = 2 * band + 3

    def local_mean(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = ndimage.uniform_filter(region.astype(np.float32), window)
        total = np.stack([ndimage.uniform_filter(pixels[..., c] * region, window) for c in range(3)], -1)
        return total / np.maximum(count, 1e-6)[..., None], count

    interior = ndimage.binary_erosion(mask, iterations=band)
    exterior = ~ndimage.binary_dilation(mask, iterations=1)
    shoe, inside = local_mean(interior)
    backdrop, outside = local_mean(exterior)
    edge = mask & ~interior & (inside > 0) & (outside > 0)
    towards_shoe = shoe[edge] - backdrop[edge]
    share = ((pixels[edge] - backdrop[edge]) * towards_shoe).sum(-1) / np.maximum(
        (towards_shoe**2).sum(-1), 1e-6)
    refined = mask.copy()
    refined[edge] = share >= 0.5
    return refined


def clean_mask(mask: np.ndarray, settings: RobustSettings | None = None) -> np.ndarray:
    """Fill holes and drop specks: parts smaller than a share of the largest part."""
    settings = settings or RobustSettings()
    filled = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(filled)
    if count == 0:
        raise MaskFailure("no object found: the whole photo looks like background")
    sizes = ndimage.sum_labels(filled, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= settings.speck_fraction * sizes.max()) + 1
    cleaned = np.isin(labels, keep)
    if cleaned.mean() > 0.9:
        raise MaskFailure(f"the object covers {cleaned.mean():.0%} of the photo: no background was found")
    return cleaned


def mask_photo(photo: Photo, method: str = "robust") -> np.ndarray:
    """The mask of one photo. A photo with transparency is cut out by its alpha channel: exact."""
    if method not in METHODS:
        raise ValueError(f"unknown mask method {method!r}; choose one of {METHODS}")
    if method == "seed":
        return seed_mask(photo.rgb)
    if photo.alpha is not None:
        return clean_mask(photo.alpha >= 128)
    return robust_mask(photo.rgb)


@dataclass(frozen=True)
class MaskOutcome:
    """One file's result: its photo and mask, or why it was skipped (``error`` names the file)."""

    path: Path
    photo: Photo | None = None
    mask: np.ndarray | None = None
    error: str | None = None


def mask_files(files: Iterable[str | os.PathLike], method: str = "robust") -> Iterator[MaskOutcome]:
    """Mask every file in turn; a bad or unsuitable file becomes an outcome with an error, never an
    exception, so one corrupt photo cannot stop a batch."""
    for file in files:
        path = Path(file)
        try:
            photo = load_photo(path)
            yield MaskOutcome(path, photo, mask_photo(photo, method))
        except BadImage as error:
            yield MaskOutcome(path, error=str(error))
        except MaskFailure as error:
            yield MaskOutcome(path, error=f"{path}: {error}")


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Save a mask as a 0/255 PNG, atomically (a crash never leaves a truncated mask)."""
    return write_png(path, np.asarray(mask, bool).astype(np.uint8) * 255)


def read_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A reference mask from disk as a boolean HxW array, however it was saved.

    Masks come as 0/255 greyscale (what :func:`write_mask` writes), as 0/1 (label images, which look
    black), as RGB (white or any colour on black), or as a transparent cut-out whose alpha is the
    mask. Raises :class:`BadImage` naming the file when it is unreadable or, with ``shape``, when
    its size is not the photo's.
    """
    photo = load_photo(path)
    if photo.alpha is not None and int(photo.alpha.min()) < int(photo.alpha.max()):
        values = photo.alpha
    else:
        values = photo.rgb.max(axis=2)
    mask = values > 0 if int(values.max(initial=0)) <= 1 else values >= 128
    if shape is not None and mask.shape != tuple(shape):
        raise BadImage(f"{photo.path}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                       f"its photo is {shape[1]}x{shape[0]}")
    return mask
