"""What one catalogue photo shows: the sneaker's design, its pose and the photo's conditions.

Everything that varies between two photos is drawn here, from one generator, so a photo is a pure
function of its seed. The proportions follow real catalogues rather than a uniform spread: most
sneakers are white, black or grey with coloured accents, most photos are side views on white, and a
few are three-quarter views, seen slightly from above, or a pair. (Muting the colours further, to match
the brightness and saturation of the real shots in ``../shared/data``, scored no better on them.)
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

MATERIALS = ("leather", "mesh", "knit", "suede", "canvas", "photo")
LOGOS = ("swoosh", "stripes", "chevron", "n", "star", "patch", "wave", "none")
VIEWS = ("side", "three_quarter", "above")


@dataclass(frozen=True)
class SneakerSpec:
    """One catalogue photo's design, pose and conditions; drawn by :func:`sample_spec`."""

    colourway: str  # "white", "black", "grey", "neutral" or "colour"
    upper: tuple  # RGB of the upper's base panels
    overlay: tuple  # toe cap, heel counter and eyestay
    accent: tuple  # logo and stripes
    lining: tuple  # collar padding and tongue label
    laces: tuple
    midsole: tuple
    outsole: tuple
    material: str  # the upper's: one of MATERIALS
    overlay_material: str
    top: str  # "low", "mid" or "high"
    logo: str  # one of LOGOS
    air_unit: bool  # a window in the midsole under the heel
    perforated: bool  # holes in the toe box
    midsole_heel: float  # thickness at the heel, in shoe lengths
    midsole_toe: float
    toe_spring: float  # how far the toe lifts off the ground
    view: str  # one of VIEWS
    turn: float  # three-quarter views: how far the shoe is turned, 0..1
    facing_left: bool
    angle: float  # degrees
    length: float  # shoe length as a fraction of the image width
    centre: tuple  # (x, y) of the shoe's centre, fractions of the image
    pair: bool  # a second shoe behind the first
    light: tuple  # (azimuth, elevation) in degrees; azimuth 0 = from the top
    shine: float  # specular strength (patent and smooth leather shine, suede and knit do not)
    background: tuple  # RGB of the paper
    gradient: float  # grey levels the paper drifts across the image
    shadow: float  # darkening under the sole, 0..1
    reflection: float  # opacity of a mirror image under the shoe (a glossy floor), 0 = none
    exposure: float  # brightness of the whole photo, about 1
    jpeg_quality: int
    texture_seed: int  # for the material's pattern and the photo textures

    @property
    def is_white(self) -> bool:
        """White uppers: the case the seed's threshold gets wrong."""
        return self.colourway == "white"


def _jitter(rgb, rng: np.random.Generator, hue: float = 0.02, sat: float = 0.1, val: float = 0.06) -> tuple:
    h, s, v = colorsys.rgb_to_hsv(*(np.asarray(rgb, float) / 255))
    h = (h + rng.normal(0, hue)) % 1
    s, v = np.clip(s + rng.normal(0, sat) * s, 0, 1), np.clip(v + rng.normal(0, val), 0, 1)
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h, s, v))


def _hue(rng: np.random.Generator, saturation=(0.55, 0.95), value=(0.45, 0.95)) -> tuple:
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return tuple(int(round(c * 255)) for c in rgb)


def _white(rng: np.random.Generator) -> tuple:
    level = rng.uniform(228, 252)
    tint = rng.normal(0, 3, 3) + np.array([2, 1, -2]) * rng.uniform(0, 2)
    return tuple(int(v) for v in np.clip(level + tint, 0, 255))


def _grey(rng: np.random.Generator, low: float, high: float) -> tuple:
    level = rng.uniform(low, high)
    return tuple(int(v) for v in np.clip(level + rng.normal(0, 3, 3), 0, 255))


def _neutral(rng: np.random.Generator) -> tuple:
    base = [(196, 160, 112), (150, 110, 72), (110, 96, 60), (214, 198, 170), (96, 72, 52), (120, 124, 96)]
    return _jitter(base[rng.integers(len(base))], rng)


def _accent(rng: np.random.Generator) -> tuple:
    """Logos and trims: mostly a colour, else black, white or grey."""
    roll = rng.random()
    if roll < 0.55:
        return _hue(rng)
    return _grey(rng, 20, 45) if roll < 0.75 else _white(rng) if roll < 0.9 else _grey(rng, 110, 170)


def _colours(rng: np.random.Generator, colourway: str) -> dict:
    """Base, overlay, accent, lining and laces of the upper; the midsole and outsole."""
    if colourway == "white":
        upper = _white(rng)
        other = _white(rng) if rng.random() < 0.5 else _grey(rng, 150, 215)
        overlay = upper if rng.random() < 0.5 else other
    elif colourway == "black":
        upper = _grey(rng, 14, 40)
        overlay = upper if rng.random() < 0.6 else _grey(rng, 30, 70)
    elif colourway == "grey":
        upper = _grey(rng, 80, 190)
        overlay = _grey(rng, 40, 220)
    elif colourway == "neutral":
        upper = _neutral(rng)
        overlay = upper if rng.random() < 0.5 else _neutral(rng)
    else:
        upper = _hue(rng)
        overlay = upper if rng.random() < 0.4 else (_hue(rng) if rng.random() < 0.5 else _white(rng))
    dark = colourway == "black"
    midsole = (_grey(rng, 20, 45) if dark and rng.random() < 0.5 else
               _neutral(rng) if rng.random() < 0.08 else _white(rng))
    outsole = [_grey(rng, 15, 45), _jitter((176, 122, 66), rng), midsole, _grey(rng, 90, 140)][
        rng.choice(4, p=[0.45, 0.2, 0.25, 0.1])]
    lining = upper if rng.random() < 0.4 else _accent(rng)
    laces = upper if rng.random() < 0.6 else _accent(rng)
    return {"upper": upper, "overlay": overlay, "accent": _accent(rng), "lining": lining, "laces": laces,
            "midsole": midsole, "outsole": outsole}


def _paper(rng: np.random.Generator) -> tuple:
    """Catalogue backgrounds: pure white, off-white, or the light grey some shops use."""
    roll = rng.random()
    if roll < 0.55:
        return (255, 255, 255)
    if roll < 0.8:
        return _grey(rng, 238, 252)
    return _grey(rng, 224, 246)


def sample_spec(rng: np.random.Generator) -> SneakerSpec:
    """Draw one photo's design, pose and conditions."""
    colourway = str(rng.choice(["white", "black", "grey", "neutral", "colour"],
                               p=[0.3, 0.2, 0.12, 0.1, 0.28]))
    material = str(rng.choice(MATERIALS, p=[0.3, 0.2, 0.15, 0.12, 0.08, 0.15]))
    view = str(rng.choice(VIEWS, p=[0.62, 0.26, 0.12]))
    shine = {"leather": 0.35, "mesh": 0.08, "knit": 0.04, "suede": 0.02, "canvas": 0.05,
             "photo": 0.15}[material]
    return SneakerSpec(
        colourway=colourway, **_colours(rng, colourway), material=material,
        overlay_material=str(rng.choice(["leather", "suede", material], p=[0.5, 0.2, 0.3])),
        top=str(rng.choice(["low", "mid", "high"], p=[0.62, 0.22, 0.16])),
        logo=str(rng.choice(LOGOS, p=[0.22, 0.16, 0.1, 0.08, 0.06, 0.1, 0.1, 0.18])),
        air_unit=bool(rng.random() < 0.25), perforated=bool(rng.random() < 0.25),
        midsole_heel=float(rng.uniform(0.06, 0.15)), midsole_toe=float(rng.uniform(0.035, 0.065)),
        toe_spring=float(rng.uniform(0.0, 0.05)), view=view, turn=float(rng.uniform(0.25, 0.8)),
        facing_left=bool(rng.random() < 0.5), angle=float(rng.normal(0, 3)),
        length=float(rng.uniform(0.7, 0.92)),
        centre=(float(0.5 + rng.normal(0, 0.02)), float(0.5 + rng.normal(0, 0.03))),
        pair=bool(rng.random() < 0.12),
        light=(float(rng.uniform(-50, 50)), float(rng.uniform(35, 70))),
        shine=float(shine * rng.uniform(0.5, 1.8)), background=_paper(rng),
        gradient=float(rng.uniform(0, 8)), shadow=float(rng.uniform(0.05, 0.35)),
        reflection=float(rng.uniform(0.1, 0.3)) if rng.random() < 0.12 else 0.0,
        exposure=float(rng.uniform(0.92, 1.06)), jpeg_quality=int(rng.integers(70, 96)),
        texture_seed=int(rng.integers(2**31)),
    )
