"""Reading photos from disk, whatever the file holds, with errors that name the file and the problem.

Catalogue folders are messy: grayscale scans, palette GIF-like PNGs, RGBA cut-outs, CMYK JPEGs from
print workflows, 16-bit PNGs, phone photos that are stored sideways with an EXIF rotation, the odd
truncated download. Every reader in the project goes through :func:`load_photo`, so each of these is
handled once.
"""

from __future__ import annotations

import contextlib
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
# Photos above MAX_PIXELS (about 7000 x 7000) are decoded reduced, by 2, 4 or 8 a side, to at most that:
# far more than the network needs, and a 108-megapixel phone photo costs a quarter of its memory.
MAX_PIXELS = 50_000_000
# A real photo keeps at least a byte per few hundred pixels even as a JPEG of a white page; a file
# that claims more pixels per byte than this is a decompression bomb and is refused unopened.
MAX_PIXELS_PER_BYTE = 1000
REDUCTIONS = (1, 2, 4, 8)


class BadImage(ValueError):
    """A file that cannot be used as a photo; the message starts with the file's path."""


@dataclass(frozen=True)
class Photo:
    """An RGB photo (uint8 HxWx3) and, for files with transparency, its alpha channel (uint8 HxW).

    ``reduction`` is 1, or the factor a very large photo was shrunk by a side when it was decoded.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path
    reduction: int = 1


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name so every run sees the same order.

    Links are listed even when they point nowhere, so that reading one reports the broken link
    instead of leaving it out without a word.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() or p.is_symlink()) and p.suffix.lower() in IMAGE_SUFFIXES)


def _reduction(path: Path, width: int, height: int, max_pixels: int) -> int:
    """How much to shrink a photo a side while decoding it, or :class:`BadImage` for a bomb."""
    pixels = width * height
    if pixels <= max_pixels:
        return 1
    size = path.stat().st_size
    if pixels > size * MAX_PIXELS_PER_BYTE:
        raise BadImage(f"{path}: {width}x{height} is {pixels:,} pixels in {size:,} bytes of file, "
                       "a decompression bomb rather than a photo; refusing to decode it")
    for factor in REDUCTIONS:
        if pixels <= max_pixels * factor * factor:
            return factor
    raise BadImage(f"{path}: {width}x{height} is too large ({pixels:,} pixels; at most "
                   f"{max_pixels * REDUCTIONS[-1] ** 2:,} are decoded, reduced)")


def _shrink(image: Image.Image, factor: int) -> Image.Image:
    """``image`` averaged over factor x factor blocks (in a mode Pillow can average)."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return image.reduce(factor)


@contextlib.contextmanager
def _pillow_pixel_limit(pixels: int):
    """Let Pillow open files up to ``pixels``: :func:`_reduction` judges the large ones itself, by
    their pixels per byte, where Pillow refuses anything above a fixed size."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None if previous is None else max(previous, pixels)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _to_8bit(image: Image.Image) -> Image.Image:
    """16- and 32-bit single-channel images (16-bit PNGs open as ``I;16`` or ``I``) scaled to 0..255."""
    values = np.asarray(image).astype(np.float64)
    top = 65535.0 if values.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def load_photo(path: str | os.PathLike, max_pixels: int | None = None) -> Photo:
    """Decode ``path`` upright into 8-bit RGB (+ alpha when the file has transparency).

    Photos above ``max_pixels`` (default :data:`MAX_PIXELS`) are decoded reduced (JPEGs by the
    decoder itself, in draft mode).
    Raises :class:`BadImage` naming the file for: missing files and broken links, unreadable or
    non-image files, truncated data, images smaller than 16 px a side, and decompression bombs
    (judged from the header and the file's size, before decoding, so a bomb costs nothing).
    """
    path, max_pixels = Path(path), max_pixels or MAX_PIXELS
    try:
        with warnings.catch_warnings(), _pillow_pixel_limit(max_pixels * REDUCTIONS[-1] ** 2):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if min(width, height) < MIN_SIDE:
                    raise BadImage(f"{path}: {width}x{height} is too small (at least {MIN_SIDE} px a side)")
                reduction = _reduction(path, width, height, max_pixels)
                if reduction > 1:
                    image.draft(image.mode, (-(-width // reduction), -(-height // reduction)))
                image.load()
                if reduction > 1 and image.size == (width, height):  # not a JPEG: shrink after decoding
                    image = _shrink(image, reduction)
                image = ImageOps.exif_transpose(image)
    except BadImage:
        raise
    except FileNotFoundError:
        if path.is_symlink():
            raise BadImage(f"{path}: broken link (it points to {os.readlink(path)}, which does not exist)") \
                from None
        raise BadImage(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise BadImage(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as error:
        raise BadImage(f"{path}: too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError, MemoryError) as error:
        raise BadImage(f"{path}: corrupt or truncated image data ({error or type(error).__name__})") from None

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = _to_8bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3].copy()
        if alpha.min() == 255:  # an alpha channel that hides nothing
            return Photo(np.ascontiguousarray(rgba[..., :3]), None, path, reduction)
        # Transparent pixels carry arbitrary colour; show them as the white of a catalogue page.
        weight = alpha[..., None].astype(np.float32) / 255.0
        rgb = rgba[..., :3] * weight + 255.0 * (1.0 - weight)
        return Photo(np.round(rgb).astype(np.uint8), alpha, path, reduction)
    return Photo(np.asarray(image.convert("RGB")).copy(), None, path, reduction)


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Save uint8 pixels (H×W grey, H×W×3 RGB or H×W×4 RGBA) as a PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
