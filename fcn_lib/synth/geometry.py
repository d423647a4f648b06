"""The shape of a sneaker seen from the side, as parts in shoe coordinates.

``u`` runs along the shoe from the back of the heel (0) to the toe (1); ``v`` is the height above the
ground, in shoe lengths. Every part is a closed outline (or a line with a width) given as a smooth
curve through a few control points, so panels are curved as a shoe's panels are, and everything a
real side view shows is there: a thick midsole that is thicker at the heel, an outsole with its lugs,
toe spring, a toe box, a heel counter, a padded collar with its tab, the tongue, the eyestay with
eyelets and laces, overlays with stitching, a logo, perforations and sometimes an air unit.
Which parts, and their proportions, come from the design (``fcn_lib.synth.design``) and ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fcn_lib.synth.design import SneakerSpec

# Part labels, in drawing order: a later part covers an earlier one.
UPPER, OVERLAY, LOGO, LINING, TONGUE, OPENING, TAB, STITCH, HOLES, EYELETS, LACES = range(1, 12)
MIDSOLE, OUTSOLE, AIR, GROOVE = range(12, 16)
UPPER_PARTS = range(UPPER, LACES + 1)
SOLE_PARTS = range(MIDSOLE, GROOVE + 1)


def smooth(points, closed: bool = True, samples: int = 8) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` (N×2), ``samples`` points per segment."""
    p = np.asarray(points, float)
    p = np.vstack([p[-1], p, p[0], p[1]]) if closed else np.vstack([p[0], p, p[-1]])
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    curve = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        curve.append(0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t**2
                            + (3 * b - a - 3 * c + d) * t**3))
    if not closed:
        curve.append(p[-2][None])
    return np.vstack(curve)


@dataclass
class Part:
    """One part: a filled outline, or with ``width`` a line; ``dashed`` lines are stitching."""

    label: int
    points: np.ndarray
    width: float = 0.0
    dashed: bool = False


@dataclass
class SideView:
    """Every part of one shoe, and the lines the renderer needs for light and shadow."""

    parts: list[Part] = field(default_factory=list)
    collar: float = 0.0  # height of the collar's top
    toe: float = 0.0  # height of the toe box
    opening: tuple = (0.0, 0.0)  # (u, v) of the collar opening's centre

    def add(self, label: int, points, width: float = 0.0, dashed: bool = False, closed: bool = True):
        curve = smooth(points, closed) if len(points) > 2 else np.asarray(points, float)
        self.parts.append(Part(label, curve, width, dashed))


def _sole_lines(spec: SneakerSpec):
    """Functions of ``u``: the ground line (toe spring, rounded heel) and the midsole's top."""
    def bottom(u):
        u = np.asarray(u, float)
        spring = spec.toe_spring * np.clip((u - 0.7) / 0.3, 0, 1) ** 2
        return spring + 0.012 * np.clip(1 - u / 0.05, 0, 1) ** 2

    def top(u):
        u = np.asarray(u, float)
        blend = np.clip((u - 0.2) / 0.65, 0, 1)
        blend = blend * blend * (3 - 2 * blend)
        sculpted = 0.006 * np.sin(2 * np.pi * 3 * u) * (1 - blend)  # a wavy midsole line at the heel
        return bottom(u) + spec.midsole_heel * (1 - blend) + spec.midsole_toe * blend + sculpted
    return bottom, top


def _sole(view: SideView, spec: SneakerSpec, rng: np.random.Generator) -> None:
    bottom, top = _sole_lines(spec)
    us = np.linspace(0, 1, 24)
    rim = 0.015 * rng.uniform(0.5, 1.5)  # the sole wraps up at the toe and the heel
    upper_edge = [(u, top(u) + rim * (np.clip(1 - u / 0.08, 0, 1) + np.clip((u - 0.92) / 0.08, 0, 1)))
                  for u in us]
    lower_edge = [(u, bottom(u)) for u in us[::-1]]
    view.add(MIDSOLE, [(-0.012, bottom(0) + 0.02), *upper_edge, (1.012, top(1) * 0.6), *lower_edge])
    band = rng.uniform(0.012, 0.03)
    view.add(OUTSOLE, [(-0.008, bottom(0) + band), *[(u, bottom(u) + band) for u in us],
                       (1.01, bottom(1) + band * 0.8), *lower_edge])
    if rng.random() < 0.7:  # lugs of the tread, seen from the side
        for u in np.arange(0.03, 0.97, rng.uniform(0.035, 0.07)):
            w = rng.uniform(0.3, 0.6) * 0.035
            view.add(GROOVE, [(u, bottom(u) + band * 0.35), (u + w, bottom(u + w) + band * 0.35)],
                     width=band * 0.35, closed=False)
    if rng.random() < 0.5:  # a groove along the midsole
        level = rng.uniform(0.35, 0.65)
        view.add(GROOVE, [(u, bottom(u) + band + (top(u) - bottom(u) - band) * level) for u in us[1:-1]],
                 width=0.004, closed=False)
    if spec.air_unit:
        a, b = rng.uniform(0.05, 0.12), rng.uniform(0.25, 0.4)
        lo, hi = bottom(a) + band + 0.008, top(a) - 0.012
        middle = (lo + hi) / 2
        view.add(AIR, [(a, lo), (b, lo), (b + 0.01, middle), (b, hi), (a, hi), (a - 0.01, middle)])


def _upper_outline(spec: SneakerSpec, rng: np.random.Generator, collar: float, toe: float, top):
    base = top(0.5) - 0.02  # hidden under the midsole
    dip = rng.uniform(0.03, 0.06)
    tongue = collar + rng.uniform(0.02, 0.07)
    throat = rng.uniform(0.6, 0.7)
    # The toe box: a rounded, slightly squared quarter from its top down to the sole at the tip.
    start, ground = rng.uniform(0.8, 0.86), top(1) + 0.012
    t, taper = np.linspace(np.pi / 2, 0, 6)[1:], rng.uniform(0.7, 1.2)
    round_toe = [(start + (1.005 - start) * np.cos(a) ** 0.75, ground + (toe - ground) * np.sin(a) ** taper)
                 for a in t]
    return [
        (0.02, base), (-0.012, top(0) + 0.05), (-0.014, collar * 0.7), (0.012, collar),
        (0.09, collar + 0.005), (0.19, collar - dip), (0.28, collar - dip * 0.4), (0.33, tongue - 0.015),
        (0.36, tongue), (0.4, tongue - 0.02), (0.47, collar * 0.8 + toe * 0.2),
        (throat, toe + 0.05), (start, toe), *round_toe, (0.98, base), (0.5, base),
    ], throat


def _lace_line(collar: float, toe: float, throat: float) -> tuple[np.ndarray, np.ndarray]:
    start = np.array([0.385, collar * 0.86])
    end = np.array([throat + 0.01, toe + 0.05])
    return start, end


def _logo(view: SideView, spec: SneakerSpec, rng: np.random.Generator, low: float, high: float) -> None:
    """The brand mark on the quarter, between the midsole (``low``) and the eyestay (``high``)."""
    h = high - low
    if spec.logo == "swoosh":
        a, b = rng.uniform(0.12, 0.25), rng.uniform(0.68, 0.78)
        view.add(LOGO, [(a, low + 0.25 * h), (0.45, low + 0.08 * h), (b, low + 0.75 * h),
                        (0.5, low + 0.3 * h), (a + 0.05, low + 0.32 * h)])
    elif spec.logo == "stripes":
        slant, gap = rng.uniform(0.05, 0.12), rng.uniform(0.045, 0.065)
        for k in range(3):
            u = rng.uniform(0.36, 0.4) + k * gap
            view.add(LOGO, [(u, low + 0.04), (u + slant, low + 0.9 * h), (u + slant + 0.025, low + 0.9 * h),
                            (u + 0.025, low + 0.04)], closed=True)
    elif spec.logo == "chevron":
        u = rng.uniform(0.3, 0.45)
        view.add(LOGO, [(u, low + 0.85 * h), (u + 0.12, low + 0.2 * h), (u + 0.25, low + 0.85 * h),
                        (u + 0.21, low + 0.85 * h), (u + 0.12, low + 0.4 * h), (u + 0.04, low + 0.85 * h)])
    elif spec.logo == "n":
        u, w = rng.uniform(0.35, 0.45), 0.14
        a, b = low + 0.1 * h, low + 0.85 * h
        view.add(LOGO, [(u, a), (u, b), (u + w, a), (u + w, b)], width=0.03, closed=False)
    elif spec.logo == "star":
        c, r = np.array([rng.uniform(0.15, 0.3), low + 0.5 * h]), 0.05
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
        star = np.stack([c[0] + radii * np.cos(angles), c[1] + radii * np.sin(angles)], 1)
        view.parts.append(Part(LOGO, star))
    elif spec.logo == "patch":
        u, w = rng.uniform(0.05, 0.4), rng.uniform(0.06, 0.12)
        a, b = low + 0.3 * h, low + 0.7 * h
        view.add(LOGO, [(u, a), (u + w, a), (u + w, b), (u, b)])
    elif spec.logo == "wave":
        us = np.linspace(0.12, 0.8, 9)
        lift = low + h * (0.4 + 0.2 * np.sin(us * rng.uniform(8, 14)))
        view.add(LOGO, np.stack([us, lift], 1), width=rng.uniform(0.02, 0.04), closed=False)


def side_view(spec: SneakerSpec, rng: np.random.Generator) -> SideView:
    """Every part of the shoe ``spec`` describes, for a side view facing right."""
    view = SideView()
    bottom, top = _sole_lines(spec)
    heights = {"low": (0.33, 0.39), "mid": (0.43, 0.5), "high": (0.55, 0.64)}
    collar = rng.uniform(*heights[spec.top])
    toe = rng.uniform(0.13, 0.2) + spec.midsole_toe - 0.05
    view.collar, view.toe = collar, toe
    outline, throat = _upper_outline(spec, rng, collar, toe, top)
    view.add(UPPER, outline)
    start, end = _lace_line(collar, toe, throat)
    # Overlays: toe cap (or a mudguard strip along the sole), heel counter, eyestay.
    cap = rng.uniform(0.7, 0.82)
    if rng.random() < 0.7:
        view.add(OVERLAY, [(cap, top(cap) - 0.01), (cap + 0.02, toe * 0.55), (cap + 0.12, toe * 0.85),
                           (1.02, toe * 0.7), (1.02, top(1) - 0.01)])
    else:
        band = rng.uniform(0.03, 0.05)
        view.add(OVERLAY, [(u, top(u) + band) for u in np.linspace(0.02, 0.99, 10)]
                 + [(1.02, top(1)), (-0.02, top(0))])
    heel = rng.uniform(0.12, 0.22)
    view.add(OVERLAY, [(heel, top(heel) - 0.01), (heel * 0.85, collar * 0.55), (heel * 0.45, collar * 0.92),
                       (-0.03, collar * 0.95), (-0.03, top(0) - 0.01)])
    normal = np.array([end[1] - start[1], start[0] - end[0]])
    normal = normal / np.linalg.norm(normal) * rng.uniform(0.04, 0.06)
    view.add(OVERLAY, [start, end, end + normal * 0.6, start + normal])
    _logo(view, spec, rng, top(0.5) + 0.02, (start + normal)[1] - 0.015)
    # Collar padding, heel tab and tongue (which stands above the collar).
    view.add(LINING, [(0.0, collar - 0.01), (0.09, collar + 0.002), (0.19, collar - 0.05),
                      (0.3, collar - 0.03)], width=0.028, closed=False)
    if rng.random() < 0.5:
        view.add(TAB, [(-0.012, collar - 0.05), (-0.022, collar + 0.012), (0.012, collar + 0.018),
                       (0.02, collar - 0.045)])
    view.add(TONGUE, [(0.3, collar * 0.8), (0.33, collar + 0.04), (0.37, collar + 0.05),
                      (0.42, collar * 0.95)])
    view.opening = (0.17, collar - 0.01)
    # Stitching along the overlays, and perforations in the toe box.
    view.add(STITCH, [(cap + 0.015, top(cap) + 0.01), (cap + 0.032, toe * 0.55), (cap + 0.13, toe * 0.8),
                      (0.99, toe * 0.66)], width=0.004, dashed=True, closed=False)
    view.add(STITCH, [(heel - 0.015, top(heel)), (heel * 0.8, collar * 0.55), (heel * 0.4, collar * 0.88)],
             width=0.004, dashed=True, closed=False)
    view.add(STITCH, [start + normal * 0.8, end + normal * 0.5], width=0.004, dashed=True, closed=False)
    if spec.perforated:
        for u in np.arange(0.78, 0.95, 0.022):
            for v in np.arange(top(u) + 0.04, toe * 0.8, 0.022):
                view.parts.append(Part(HOLES, np.array([[u, v]]), width=0.009))
    # Eyelets and laces criss-crossing the throat.
    count = int(rng.integers(5, 8))
    across = normal / np.linalg.norm(normal) * 0.03
    for k in range(count):
        p = start + (end - start) * k / (count - 1)
        view.parts.append(Part(EYELETS, np.array([p + across * 0.4]), width=0.011))
        if k:
            q = start + (end - start) * (k - 1) / (count - 1)
            view.add(LACES, [q - across * 0.3, p + across * 0.5], width=0.018, closed=False)
            view.add(LACES, [q + across * 0.5, p - across * 0.3], width=0.018, closed=False)
    _sole(view, spec, rng)
    return view
