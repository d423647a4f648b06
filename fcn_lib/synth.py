"""The embedded sneaker catalogue: side-view sneakers on white, rendered with exact masks.

The original work used 4,500 product photos on white backgrounds. Those cannot ship with the book, so
this module draws a stand-in that has what matters for learning the task: varied silhouettes (low, mid
and high tops facing either way, slightly rotated), soles with midsole and tread, toe caps, heel tabs,
collars, laces and eyelets, logo stripes, fabric textures, colourways from black to white, soft shadows,
off-white graded backgrounds and JPEG artefacts. Because the renderer knows which pixels it painted,
every photo comes with an exact mask, which is what lets notebook 01 *measure* thresholding methods.

Every sneaker is a pure function of ``(seed, index)``: the same catalogue comes out whatever the number
of worker processes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUPERSAMPLE = 2  # draw at 2x and average down: anti-aliased edges whose coverage defines the mask
RENDERER_VERSION = 1  # bump when the drawing changes, so caches of old renders are not reused

_PALETTE = {
    "black": (28, 28, 30), "charcoal": (62, 64, 68), "grey": (128, 130, 134), "silver": (188, 190, 194),
    "navy": (30, 42, 88), "royal": (40, 80, 200), "sky": (110, 170, 230), "teal": (20, 140, 140),
    "green": (40, 130, 60), "olive": (96, 104, 52), "lime": (180, 220, 60), "yellow": (240, 200, 40),
    "orange": (240, 120, 30), "red": (200, 30, 40), "burgundy": (110, 24, 44), "pink": (236, 130, 170),
    "purple": (110, 60, 160), "tan": (200, 160, 110), "brown": (110, 72, 44), "gum": (176, 120, 64),
}
_WHITES = [(244, 244, 242), (238, 238, 234), (246, 245, 241), (234, 234, 236), (242, 238, 230)]
RIM_DARKENING = 0.14  # surfaces turn away from the camera at the silhouette and catch less light


@dataclass(frozen=True)
class SneakerSpec:
    """Everything that varies between two catalogue photos; drawn by :func:`sample_spec`."""

    colourway: str  # "white", "black", "mono", "two-tone" or "multi"
    upper: tuple
    accent: tuple
    toe_cap: tuple
    midsole: tuple
    outsole: tuple
    laces: tuple
    top: str  # "low", "mid" or "high"
    facing_left: bool
    angle: float  # degrees
    length: float  # shoe length as a fraction of the image width
    centre: tuple  # (x, y) of the shoe's centre, fractions of the image
    texture: str  # "leather", "mesh" or "knit"
    sole_height: float
    toe_height: float
    stripe: str  # "swoosh", "bars" or "none"
    shadow: float  # darkening under the sole, 0..1
    background: tuple  # RGB of the background
    gradient: float  # grey levels the background drifts across the image
    jpeg_quality: int

    @property
    def is_white(self) -> bool:
        """White and near-white uppers: the case the seed's threshold gets wrong."""
        return self.colourway == "white"


def _colour(rng: np.random.Generator, exclude: tuple = ()) -> tuple:
    names = [n for n in _PALETTE if _PALETTE[n] not in exclude]
    base = np.array(_PALETTE[names[rng.integers(len(names))]], float)
    return tuple(int(v) for v in np.clip(base + rng.normal(0, 8, 3), 0, 255))


def _white(rng: np.random.Generator) -> tuple:
    return _WHITES[rng.integers(len(_WHITES))]


def sample_spec(rng: np.random.Generator) -> SneakerSpec:
    """Draw one sneaker's design, pose and photo conditions."""
    colourway = rng.choice(["white", "black", "mono", "two-tone", "multi"], p=[0.18, 0.14, 0.24, 0.24, 0.2])
    white, black = _white(rng), _PALETTE["black"]
    if colourway == "white":
        upper, accent, toe_cap = white, (_colour(rng) if rng.random() < 0.5 else _white(rng)), white
        midsole, laces = _white(rng), white
    elif colourway == "black":
        upper, accent, toe_cap, midsole, laces = black, _PALETTE["charcoal"], black, black, black
        if rng.random() < 0.5:
            midsole = _white(rng)
    elif colourway == "mono":
        upper = _colour(rng)
        accent, toe_cap, laces = upper, upper, upper
        midsole = _white(rng) if rng.random() < 0.6 else upper
    elif colourway == "two-tone":
        upper, accent = _colour(rng), _colour(rng)
        toe_cap, laces, midsole = upper, accent, _white(rng)
    else:
        upper, accent, toe_cap, laces = _colour(rng), _colour(rng), _colour(rng), _colour(rng)
        midsole = _white(rng) if rng.random() < 0.5 else _colour(rng)
    outsole = [_PALETTE["black"], _PALETTE["gum"], _PALETTE["charcoal"], midsole][rng.integers(4)]
    paper = 255 - rng.integers(0, 12)  # 40% off-white, slightly tinted; the rest pure white
    off_white = rng.random() < 0.4
    background = tuple(int(paper - rng.integers(0, 4)) for _ in range(3)) if off_white else (255, 255, 255)
    return SneakerSpec(
        colourway=str(colourway), upper=upper, accent=accent, toe_cap=toe_cap, midsole=midsole,
        outsole=tuple(outsole), laces=laces,
        top=str(rng.choice(["low", "mid", "high"], p=[0.55, 0.25, 0.2])),
        facing_left=bool(rng.random() < 0.5), angle=float(rng.normal(0, 4)),
        length=float(rng.uniform(0.68, 0.88)),
        centre=(float(0.5 + rng.normal(0, 0.02)), float(rng.uniform(0.5, 0.58))),
        texture=str(rng.choice(["leather", "mesh", "knit"])),
        sole_height=float(rng.uniform(0.06, 0.1)), toe_height=float(rng.uniform(0.18, 0.23)),
        stripe=str(rng.choice(["swoosh", "bars", "none"], p=[0.45, 0.3, 0.25])),
        shadow=float(rng.uniform(0.0, 0.22)), background=background,
        gradient=float(rng.uniform(0, 6)), jpeg_quality=int(rng.integers(72, 96)),
    )


def _shaded(colour: tuple, factor: float) -> tuple:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


class _Pen:
    """Maps shoe coordinates (u along the shoe from heel 0 to toe 1, v up from the ground, in shoe
    lengths) to pixels of the supersampled canvas, and draws parts in them. The pose (rotation about
    the shoe's centre, facing left or right) is applied to the coordinates, not to the pixels, so it
    costs nothing and blurs nothing."""

    def __init__(self, layer: Image.Image, spec: SneakerSpec, canvas: int):
        self.draw = ImageDraw.Draw(layer)
        self.scale = spec.length * canvas
        self.cx, self.cy = canvas * spec.centre[0], canvas * spec.centre[1]
        self.mirror = -1.0 if spec.facing_left else 1.0
        angle = np.deg2rad(spec.angle)
        self.cos, self.sin = float(np.cos(angle)), float(np.sin(angle))

    def xy(self, points) -> list[tuple[float, float]]:
        out = []
        for u, v in points:
            dx, dy = (u - 0.5) * self.scale, (0.16 - v) * self.scale  # the shoe's centre is 0.16 up
            x, y = self.cos * dx + self.sin * dy, -self.sin * dx + self.cos * dy
            out.append((self.cx + self.mirror * x, self.cy + y))
        return out

    def polygon(self, points, colour) -> None:
        self.draw.polygon(self.xy(points), fill=(*colour, 255))

    def line(self, points, colour, width: float) -> None:
        self.draw.line(self.xy(points), fill=(*colour, 255), width=max(1, round(width * self.scale)),
                       joint="curve")

    def dot(self, u, v, radius, colour) -> None:
        (x, y), r = self.xy([(u, v)])[0], radius * self.scale
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, 255))


def _collar_height(spec: SneakerSpec) -> float:
    return {"low": 0.36, "mid": 0.46, "high": 0.6}[spec.top]


def _upper_outline(spec: SneakerSpec) -> list[tuple[float, float]]:
    s, t = spec.sole_height, spec.toe_height
    collar = _collar_height(spec)
    return [
        (0.02, s), (0.0, s + 0.06), (0.005, collar * 0.75), (0.03, collar), (0.08, collar + 0.01),
        (0.2, collar - 0.05), (0.3, collar - 0.02), (0.34, collar + 0.02), (0.4, collar * 0.85),
        (0.62, t + 0.06), (0.76, t + 0.035), (0.87, t), (0.95, t * 0.8), (0.99, t * 0.55), (1.0, s + 0.02),
        (0.98, s),
    ]


def _lace_line(spec: SneakerSpec) -> list[tuple[float, float]]:
    return [(0.39, _collar_height(spec) * 0.82 - 0.02), (0.62, spec.toe_height + 0.035)]


def _draw_upper(pen: _Pen, spec: SneakerSpec) -> None:
    s, t = spec.sole_height, spec.toe_height
    pen.polygon(_upper_outline(spec), spec.upper)
    pen.polygon([(0.76, s), (0.78, t + 0.03), (0.87, t), (0.95, t * 0.8), (0.99, t * 0.55), (1.0, s + 0.02),
                 (0.98, s)], spec.toe_cap)
    collar = _collar_height(spec)
    pen.polygon([(0.0, s + 0.06), (0.005, collar * 0.75), (0.03, collar), (0.09, collar + 0.01),
                 (0.1, collar - 0.05), (0.05, s + 0.03)], spec.accent)  # heel counter
    pen.line([(0.04, collar + 0.004), (0.2, collar - 0.045), (0.3, collar - 0.015), (0.36, collar + 0.01)],
             _shaded(spec.upper, 0.55), 0.018)  # padded collar
    pen.polygon([(0.015, collar - 0.02), (-0.012, collar + 0.03), (0.045, collar + 0.035),
                 (0.05, collar - 0.01)], spec.accent)  # heel tab
    if spec.stripe == "swoosh":
        pen.polygon([(0.12, s + 0.05), (0.55, s + 0.13), (0.74, t + 0.02), (0.6, s + 0.06), (0.2, s + 0.025)],
                    spec.accent)
    elif spec.stripe == "bars":
        for k in range(3):
            du = 0.05 * k
            pen.polygon([(0.34 + du, s + 0.01), (0.44 + du, collar * 0.72 - 0.06 * k),
                         (0.475 + du, collar * 0.72 - 0.06 * k - 0.02), (0.375 + du, s + 0.01)], spec.accent)
    (u0, v0), (u1, v1) = _lace_line(spec)
    for k in range(6):
        u, v = u0 + (u1 - u0) * k / 5, v0 + (v1 - v0) * k / 5
        pen.dot(u - 0.018, v - 0.014, 0.009, _shaded(spec.upper, 0.45))  # eyelet
        pen.line([(u - 0.035, v - 0.022), (u + 0.035, v + 0.026)], _shaded(spec.laces, 0.8), 0.016)
        pen.line([(u - 0.035, v + 0.018), (u + 0.035, v - 0.012)], spec.laces, 0.014)


def _draw_sole(pen: _Pen, spec: SneakerSpec) -> None:
    s = spec.sole_height
    o = s * 0.38
    pen.polygon([(0.0, 0.012), (0.02, 0.0), (0.86, 0.0), (0.97, 0.012), (1.015, o + 0.01), (1.02, s + 0.01),
                 (0.98, s + 0.012), (0.0, s + 0.004), (-0.012, s * 0.6)], spec.midsole)
    pen.polygon([(0.0, 0.012), (0.02, 0.0), (0.86, 0.0), (0.97, 0.012), (1.015, o + 0.01), (0.9, o),
                 (0.02, o), (-0.008, o * 0.8)], spec.outsole)
    tread = _shaded(spec.outsole, 0.6 if sum(spec.outsole) > 150 else 1.8)
    for k in range(14):
        u = 0.04 + k * 0.062
        pen.polygon([(u, 0.0), (u + 0.03, 0.0), (u + 0.03, o * 0.45), (u, o * 0.45)], tread)


def _texture(rng: np.random.Generator, kind: str, shape: tuple[int, int]) -> np.ndarray | None:
    """A multiplicative fabric pattern around 1.0, or None for smooth leather."""
    h, w = shape
    if kind == "mesh":
        period = rng.uniform(5, 9)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        holes = (np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period)) > 0.55
        return 1.0 - 0.22 * holes.astype(np.float32)
    if kind == "knit":
        rows = np.sin(np.arange(h, dtype=np.float32) * 2 * np.pi / rng.uniform(3, 5))[:, None]
        speckle = rng.normal(0, 1, (h, w)).astype(np.float32)
        return 1.0 + 0.06 * rows + 0.05 * speckle
    return None


def _darken_rim(layer: Image.Image) -> Image.Image:
    """Shade a band about two pixels wide inside the silhouette, as a curved surface is shaded."""
    alpha = layer.getchannel("A")
    # A box blur pulls alpha below 1 only near the outline: a cheap erosion with a soft edge.
    blurred = np.asarray(alpha.filter(ImageFilter.BoxBlur(2 * SUPERSAMPLE)), np.float32) / 255.0
    pixels = np.asarray(layer, np.float32)
    rim = np.clip(2.0 * (1.0 - blurred), 0.0, 1.0) * (pixels[..., 3] / 255.0)
    pixels[..., :3] *= 1.0 - RIM_DARKENING * rim[..., None]
    return Image.fromarray(pixels.astype(np.uint8), "RGBA")


def _background(spec: SneakerSpec, size: int, rng: np.random.Generator) -> np.ndarray:
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    drift = spec.gradient * (np.cos(direction) * ramp[None, :] + np.sin(direction) * ramp[:, None])
    return np.asarray(spec.background, np.float32)[None, None, :] + drift[..., None]


def _shadow(coverage: np.ndarray, strength: float) -> np.ndarray:
    """Soft darkening under the sole: an ellipse at the lowest painted rows, blurred."""
    rows, cols = np.nonzero(coverage > 0.5)
    size = coverage.shape[0]
    shade = Image.new("L", (size, size), 0)
    if rows.size and strength > 0:
        bottom, left, right = rows.max(), cols.min(), cols.max()
        half_h = max(2, size // 40)
        ImageDraw.Draw(shade).ellipse((left + 2, bottom - half_h, right - 2, bottom + half_h), fill=255)
        shade = shade.filter(ImageFilter.GaussianBlur(size / 45))
    return 1.0 - strength * np.asarray(shade, np.float32) / 255.0


def render(spec: SneakerSpec, size: int = 224, rng: np.random.Generator | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one catalogue photo: ``(image uint8 HxWx3 after JPEG, mask bool HxW)``.

    The mask is the set of pixels the shoe covers at least half of, the same rule a photographer's
    clipping path would give. Shadows and background are never in the mask.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    canvas = size * SUPERSAMPLE
    layer = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    pen = _Pen(layer, spec, canvas)
    _draw_upper(pen, spec)
    texture = _texture(rng, spec.texture, (canvas, canvas))
    if texture is not None:
        pixels = np.asarray(layer, np.float32)
        pixels[..., :3] *= texture[..., None]
        layer = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGBA")
        pen = _Pen(layer, spec, canvas)
    _draw_sole(pen, spec)
    layer = _darken_rim(layer)
    # Transparent pixels are (0, 0, 0, 0), so averaging down gives premultiplied colour and coverage.
    shoe = np.asarray(layer.reduce(SUPERSAMPLE), np.float32) / 255.0
    coverage = shoe[..., 3]
    vertical = np.linspace(1.0, 0.9, size, dtype=np.float32)[:, None, None]  # light from above
    paper = _background(spec, size, rng) * _shadow(coverage, spec.shadow)[..., None]
    image = paper * (1 - coverage[..., None]) + 255.0 * shoe[..., :3] * vertical
    image = np.clip(image + 1.2 * rng.standard_normal(image.shape, np.float32), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=spec.jpeg_quality)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return decoded, coverage >= 0.5


def render_item(seed: int, index: int, size: int = 224) -> tuple[np.ndarray, np.ndarray, SneakerSpec]:
    """The catalogue's ``index``-th sneaker for a given seed: image, exact mask and its design."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    spec = sample_spec(rng)
    image, mask = render(spec, size, rng)
    return image, mask, spec
