"""Drawing a catalogue photo: the parts as a label map, their materials and light, the view, the paper.

A photo is drawn at twice its size and averaged down, so the outline is anti-aliased and the mask is
exact: a pixel is sneaker when the shoe covers at least half of it, the rule a photographer's
clipping path follows. Shadows, reflections and the paper are never in the mask.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from fcn_lib.synth import geometry as g
from fcn_lib.synth.design import SneakerSpec, sample_spec
from fcn_lib.synth.materials import pattern, photo_colours, relief, shade

SUPERSAMPLE = 2
RENDERER_VERSION = 3  # bump when the drawing changes, so caches of old renders are not reused
_CLIPPED = (g.OVERLAY, g.LOGO, g.LINING, g.STITCH, g.HOLES, g.EYELETS)  # drawn only on the upper
_RAISED = (g.OVERLAY, g.LOGO, g.TAB, g.LINING)  # stitched on top: a small bevel of their own


class _Pen:
    """Shoe coordinates to canvas pixels under a pose (scale, centre, rotation, facing), drawing
    labels into an ``L`` image."""

    def __init__(self, canvas: int, scale: float, centre, angle: float, facing_left: bool):
        self.canvas, self.scale, (self.cx, self.cy) = canvas, scale, centre
        self.mirror = -1.0 if facing_left else 1.0
        self.cos, self.sin = float(np.cos(np.deg2rad(angle))), float(np.sin(np.deg2rad(angle)))

    def xy(self, points) -> list[tuple[float, float]]:
        p = np.asarray(points, float)
        dx, dy = (p[:, 0] - 0.5) * self.scale, (0.2 - p[:, 1]) * self.scale
        x, y = self.cos * dx + self.sin * dy, -self.sin * dx + self.cos * dy
        return list(zip((self.cx + self.mirror * x).tolist(), (self.cy + y).tolist(), strict=True))

    def draw(self, image: Image.Image, part: g.Part, label: int | None = None) -> None:
        draw, value = ImageDraw.Draw(image), part.label if label is None else label
        width = max(1, round(part.width * self.scale))
        if len(part.points) == 1:  # a dot: an eyelet, a perforation
            (x, y), r = self.xy(part.points)[0], part.width * self.scale / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=value)
        elif part.dashed:
            points = self.xy(part.points)
            for k, (a, b) in enumerate(zip(points, points[1:], strict=False)):
                if k % 2 == 0:
                    draw.line((a, b), fill=value, width=width)
        elif part.width:
            draw.line(self.xy(part.points), fill=value, width=width, joint="curve")
        else:
            draw.polygon(self.xy(part.points), fill=value)


def _ellipse(u: float, v: float, a: float, b: float, label: int) -> g.Part:
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    return g.Part(label, np.stack([u + a * np.cos(t), v + b * np.sin(t)], 1))


def _labels(view: g.SideView, spec: SneakerSpec, pen: _Pen) -> np.ndarray:
    """The label map of one shoe: which part every canvas pixel shows (0: not the shoe)."""
    by_label = {}
    for part in view.parts:
        by_label.setdefault(part.label, []).append(part)
    size = (pen.canvas, pen.canvas)
    base = Image.new("L", size, 0)
    for label in (g.TONGUE, g.UPPER):
        for part in by_label.get(label, []):
            pen.draw(base, part)
    upper = np.asarray(base) == g.UPPER
    if spec.view != "side":  # seen from above the collar: its opening and the lining inside
        u, v = view.opening
        depth = (0.035 if spec.view == "three_quarter" else 0.06) * (0.6 + spec.turn)
        pen.draw(base, _ellipse(u, v, 0.15, depth + 0.012, g.LINING))
        pen.draw(base, _ellipse(u + 0.01, v - 0.004, 0.13, depth, g.OPENING))
    clipped = Image.new("L", size, 0)
    for label in _CLIPPED:
        for part in by_label.get(label, []):
            pen.draw(clipped, part)
    labels = np.asarray(base).copy()
    on_upper = upper & (np.asarray(clipped) > 0)
    labels[on_upper] = np.asarray(clipped)[on_upper]
    top = Image.fromarray(labels)
    for label in (g.TAB, g.LACES, g.MIDSOLE, g.OUTSOLE):
        for part in by_label.get(label, []):
            pen.draw(top, part)
    labels = np.asarray(top).copy()
    sole = np.isin(labels, (g.MIDSOLE, g.OUTSOLE))
    details = Image.new("L", size, 0)
    for label in (g.GROOVE, g.AIR):
        for part in by_label.get(label, []):
            pen.draw(details, part)
    on_sole = sole & (np.asarray(details) > 0)
    labels[on_sole] = np.asarray(details)[on_sole]
    return labels


def _albedo(labels: np.ndarray, spec: SneakerSpec, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Every pixel's own colour (H×W×3 float), material pattern included."""
    def darker(rgb, factor: float) -> tuple:
        return tuple(int(c * factor) for c in rgb)

    palette = {g.UPPER: spec.upper, g.TONGUE: spec.upper, g.OVERLAY: spec.overlay, g.LOGO: spec.accent,
               g.LINING: spec.lining, g.OPENING: darker(spec.lining, 0.35),
               g.TAB: spec.accent if rng.random() < 0.3 else spec.overlay,
               g.STITCH: darker(spec.overlay, 0.75),
               g.HOLES: darker(spec.upper, 0.45), g.EYELETS: darker(spec.overlay, 0.6), g.LACES: spec.laces,
               g.MIDSOLE: spec.midsole, g.OUTSOLE: spec.outsole, g.AIR: (200, 212, 222),
               g.GROOVE: darker(spec.midsole, 0.7)}
    table = np.zeros((256, 3), np.float32)
    for label, rgb in palette.items():
        table[label] = rgb
    colour = table[labels]
    shape = labels.shape
    for parts, material in (((g.UPPER, g.TONGUE), spec.material), ((g.OVERLAY,), spec.overlay_material)):
        where = np.isin(labels, parts)
        colour[where] *= pattern(material, shape, rng, scale)[where][:, None]
        if material == "photo" and rng.random() < 0.4:  # the panel in a real photograph's colours
            mix = rng.uniform(0.4, 1.0)
            colour[where] = (1 - mix) * colour[where] + mix * photo_colours(rng, shape)[where]
    rubber = np.isin(labels, (g.MIDSOLE, g.OUTSOLE, g.GROOVE))
    colour[rubber] *= (1 + 0.02 * rng.standard_normal(int(rubber.sum()))).astype(np.float32)[:, None]
    return colour


def _lit(labels: np.ndarray, colour: np.ndarray, spec: SneakerSpec, length_px: float) -> np.ndarray:
    """The colours under the photo's light: rounded upper and sole, raised overlays, shadowed seams and
    a soft shadow where the upper meets the sole."""
    upper = np.isin(labels, tuple(g.UPPER_PARTS))
    sole = np.isin(labels, tuple(g.SOLE_PARTS))
    # Light varies slowly: it is worked out at half the resolution and stretched back.
    half, px = labels[::2, ::2], length_px / 2
    upper_half, sole_half = upper[::2, ::2], sole[::2, ::2]
    height = (relief(upper_half, 0.06 * px) + 0.5 * relief(sole_half, 0.02 * px)
              + 0.15 * relief(np.isin(half, _RAISED), 0.006 * px))
    diffuse, specular = shade(height, spec.light, spec.shine, 0.035 * px)
    above_sole = ndimage.distance_transform_edt(~sole_half) / (0.03 * px)
    light = diffuse * (1 - 0.22 * np.exp(-above_sole) * upper_half)
    light, specular = (np.repeat(np.repeat(a, 2, 0), 2, 1)[:labels.shape[0], :labels.shape[1]]
                       for a in (light, specular))
    edges = np.zeros(labels.shape, bool)
    edges[:-1] |= labels[:-1] != labels[1:]
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    seams = ndimage.gaussian_filter((edges & (labels > 0)).astype(np.float32), 0.004 * length_px)
    light = light * (1 - 0.3 * np.clip(seams * 3, 0, 1))
    return colour * light[..., None] + 255.0 * specular[..., None] * (upper | sole)[..., None]


def _perspective(spec: SneakerSpec, alpha: np.ndarray) -> tuple | None:
    """PIL perspective coefficients (output to input) that turn a side view into a three-quarter view
    or a view from slightly above, about the shoe's bounding box; None for a side view."""
    if spec.view == "side":
        return None
    rows, cols = np.nonzero(alpha)
    left, right, top, bottom = cols.min(), cols.max(), rows.min(), rows.max()
    width, height = right - left, bottom - top
    source = [(left, top), (right, top), (right, bottom), (left, bottom)]
    if spec.view == "three_quarter":  # turned: shorter, the far end smaller than the near one
        squeeze, far = 0.18 * spec.turn * width, 0.16 * spec.turn * height
        near_left = spec.facing_left != (spec.turn > 0.5)
        lift = [0, far] if near_left else [far, 0]
        a, b = left + squeeze / 2, right - squeeze / 2
        target = [(a, top + lift[0] * 0.7 + far * 0.1), (b, top + lift[1] * 0.7), (b, bottom - lift[1] * 0.3),
                  (a, bottom - lift[0] * 0.3)]
    else:  # from above: flatter, the top edge further away
        drop, narrow = 0.12 * spec.turn * height, 0.04 * width
        target = [(left + narrow, top + drop), (right - narrow, top + drop), (right, bottom), (left, bottom)]
    matrix, vector = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        matrix += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        vector += [u, v]
    return tuple(np.linalg.solve(np.array(matrix, float), np.array(vector, float)))


def _shoe(spec: SneakerSpec, rng: np.random.Generator, canvas: int, pen: _Pen
          ) -> tuple[np.ndarray, np.ndarray]:
    """One shoe on a transparent canvas: premultiplied RGB (H×W×3 float) and coverage (H×W, 0..1)."""
    labels = _labels(g.side_view(spec, rng), spec, pen)
    rows, cols = np.nonzero(labels)
    box = (slice(max(rows.min() - 8, 0), rows.max() + 9), slice(max(cols.min() - 8, 0), cols.max() + 9))
    colour = np.zeros((canvas, canvas, 3), np.float32)  # the work is done on the shoe's box alone
    colour[box] = _lit(labels[box], _albedo(labels[box], spec, rng, pen.scale / 100), spec, pen.scale)
    alpha = (labels > 0).astype(np.float32)
    coefficients = _perspective(spec, alpha)
    rgb = np.clip(colour, 0, 255) * alpha[..., None]
    if coefficients is not None:
        warped = [Image.fromarray(channel).transform((canvas, canvas), Image.PERSPECTIVE, coefficients,
                                                     Image.BILINEAR)
                  for channel in (*np.moveaxis(rgb, -1, 0), alpha)]
        rgb, alpha = np.stack([np.asarray(w) for w in warped[:3]], -1), np.asarray(warped[3])
    return rgb, alpha


def _paper(spec: SneakerSpec, size: int, rng: np.random.Generator) -> np.ndarray:
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    drift = spec.gradient * (np.cos(direction) * ramp[None, :] + np.sin(direction) * ramp[:, None])
    return np.asarray(spec.background, np.float32)[None, None, :] + drift[..., None]


def _contact_shadow(coverage: np.ndarray, strength: float) -> np.ndarray:
    """Soft darkening under the sole: an ellipse at the lowest painted rows, blurred."""
    rows, cols = np.nonzero(coverage > 0.5)
    size = coverage.shape[0]
    shadow = Image.new("L", (size, size), 0)
    if rows.size:
        bottom, left, right = rows.max(), cols.min(), cols.max()
        box = (left + 2, bottom - size // 60, right - 2, bottom + size // 40)
        ImageDraw.Draw(shadow).ellipse(box, fill=255)
        shadow = shadow.filter(ImageFilter.GaussianBlur(size / 45))
    return 1.0 - strength * np.asarray(shadow, np.float32) / 255.0


def _shoes(spec: SneakerSpec, rng: np.random.Generator, canvas: int, length: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """The shoe, or the pair, on a transparent canvas: premultiplied RGB and coverage."""
    length = length * canvas * (0.82 if spec.pair else 1.0)
    centre = np.array(spec.centre) * canvas
    poses = [(centre, spec.facing_left)]
    if spec.pair:  # the second shoe behind and above the first, facing the same way or not
        offset = np.array([rng.choice([-1, 1]) * rng.uniform(0.08, 0.2), -rng.uniform(0.03, 0.09)]) * canvas
        behind_facing = spec.facing_left != (rng.random() < 0.3)
        poses = [(centre - offset / 2, behind_facing), (centre + offset / 2, spec.facing_left)]
    rgb, alpha = np.zeros((canvas, canvas, 3), np.float32), np.zeros((canvas, canvas), np.float32)
    for where, facing_left in poses[::-1]:  # the front shoe first, each later one behind it
        pen = _Pen(canvas, length, where, spec.angle, facing_left)
        shoe_rgb, shoe_alpha = _shoe(spec, rng, canvas, pen)
        rgb += shoe_rgb * (1 - alpha[..., None])
        alpha += shoe_alpha * (1 - alpha)
    return rgb, alpha


def render(spec: SneakerSpec, size: int = 224, rng: np.random.Generator | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one catalogue photo: ``(image uint8 H×W×3 after JPEG, mask bool H×W)``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    canvas = size * SUPERSAMPLE
    length = spec.length
    rgb, alpha = _shoes(spec, rng, canvas, length)
    frame = 2 * SUPERSAMPLE
    while (alpha[:frame].any() or alpha[-frame:].any() or alpha[:, :frame].any()
           or alpha[:, -frame:].any()):  # too large for the frame: step back
        length *= 0.9
        rgb, alpha = _shoes(spec, rng, canvas, length)
    shoe = np.asarray(Image.fromarray(np.dstack([rgb, alpha * 255]).clip(0, 255).astype(np.uint8), "RGBA")
                      .reduce(SUPERSAMPLE), np.float32) / 255.0
    coverage = shoe[..., 3]
    paper = _paper(spec, size, rng) * _contact_shadow(coverage, spec.shadow)[..., None]
    if spec.reflection:  # a glossy floor: the shoe mirrored under its sole, fading away
        bottom = int(np.nonzero(coverage.any(1))[0].max())
        mirrored = np.zeros_like(shoe)
        reach = min(bottom, size - bottom - 1)
        mirrored[bottom + 1:bottom + 1 + reach] = shoe[bottom - reach:bottom][::-1]
        fade = spec.reflection * np.exp(-np.arange(size, dtype=np.float32) / (0.08 * size))
        below = (np.arange(size) > bottom)[:, None, None]
        weight = mirrored[..., 3:] * np.roll(fade, bottom + 1)[:, None, None] * below
        colour = 255.0 * mirrored[..., :3] / np.maximum(mirrored[..., 3:], 1e-3)
        paper = paper * (1 - weight) + colour * weight
    image = (paper * (1 - coverage[..., None]) + 255.0 * shoe[..., :3]) * spec.exposure
    image = np.clip(image + 1.2 * rng.standard_normal(image.shape, np.float32), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=spec.jpeg_quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")), coverage >= 0.5


def render_item(seed: int, index: int, size: int = 224) -> tuple[np.ndarray, np.ndarray, SneakerSpec]:
    """The catalogue's ``index``-th sneaker for a given seed: image, exact mask and its design."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    spec = sample_spec(rng)
    image, mask = render(spec, size, rng)
    return image, mask, spec
