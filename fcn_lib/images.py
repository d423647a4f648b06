"""Reading photos from disk, whatever the file holds, with errors that name the file and the problem.

Catalogue folders are messy: grayscale scans, palette GIF-like PNGs, RGBA cut-outs, CMYK JPEGs from
print workflows, 16-bit PNGs, phone photos that are stored sideways with an EXIF rotation, the odd
truncated download. Every reader in the project goes through :func:`load_photo`, so each of these is
handled once.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fcn_lib.atomic import atomic_write_bytes

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MIN_SIDE = 16
MAX_PIXELS = 50_000_000  # about 7000 x 7000: larger is a decompression bomb or not a product photo


class BadImage(ValueError):
    """A file that cannot be used as a photo; the message starts with the file's path."""


@dataclass(frozen=True)
class Photo:
    """An RGB photo (uint8 HxWx3) and, for files with transparency, its alpha channel (uint8 HxW)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name so every run sees the same order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16- and 32-bit single-channel images (16-bit PNGs open as ``I;16`` or ``I``) scaled to 0..255."""
    values = np.asarray(image).astype(np.float64)
    top = 65535.0 if values.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def load_photo(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Photo:
    """Decode ``path`` upright into 8-bit RGB (+ alpha when the file has transparency).

    Raises :class:`BadImage` naming the file for: missing, unreadable or non-image files, truncated
    data, images smaller than 16 px a side, and images above ``max_pixels`` (checked from the header,
    before decoding, so a decompression bomb costs nothing).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise BadImage(f"{path}: {width}x{height} is too large ({width * height:,} pixels, "
                                   f"limit {max_pixels:,}); refusing to decode it")
                if min(width, height) < MIN_SIDE:
                    raise BadImage(f"{path}: {width}x{height} is too small (at least {MIN_SIDE} px a side)")
                image.load()
                image = ImageOps.exif_transpose(image)
    except BadImage:
        raise
    except FileNotFoundError:
        raise BadImage(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise BadImage(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImage(f"{path}: too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise BadImage(f"{path}: corrupt or truncated image data ({error})") from None

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = _to_8bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3].copy()
        if alpha.min() == 255:  # an alpha channel that hides nothing
            return Photo(np.ascontiguousarray(rgba[..., :3]), None, path)
        # Transparent pixels carry arbitrary colour; show them as the white of a catalogue page.
        weight = alpha[..., None].astype(np.float32) / 255.0
        rgb = rgba[..., :3] * weight + 255.0 * (1.0 - weight)
        return Photo(np.round(rgb).astype(np.uint8), alpha, path)
    return Photo(np.asarray(image.convert("RGB")).copy(), None, path)


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Save uint8 pixels (H×W grey, H×W×3 RGB or H×W×4 RGBA) as a PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
