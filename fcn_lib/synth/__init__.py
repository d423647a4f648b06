"""The embedded sneaker catalogue: sneakers rendered as catalogue photographs, with exact masks.

The original work used 4,500 product photos on white backgrounds. Those cannot ship with the book, so
this package draws a stand-in that has what a network needs to learn real sneakers from it: curved,
overlapping panels with stitching, a toe box, a heel counter, a padded collar and tongue, laces and
eyelets, perforations, logos of many shapes, thick shaded midsoles (some with an air unit) and outsoles
with their tread; leather, mesh, knit, suede and canvas, and panels that carry the texture of a real
photograph; top light with a soft self-shadow and a sheen on smooth leather; colourways in the
proportions of real catalogues; side views mostly, some three-quarter views, some from slightly
above, some pairs; white, off-white and light grey paper with a contact shadow or a reflection.
Because the renderer knows which pixels it painted, every photo comes with an exact mask, which is
what lets notebook 01 *measure* thresholding methods.

Every sneaker is a pure function of ``(seed, index)``: the same catalogue comes out whatever the number
of worker processes. ``design`` draws what a photo shows, ``geometry`` the parts' shapes, ``materials``
their surfaces and light, ``render`` the photo.
"""

from fcn_lib.synth.design import SneakerSpec, sample_spec
from fcn_lib.synth.render import RENDERER_VERSION, SUPERSAMPLE, render, render_item

__all__ = ["RENDERER_VERSION", "SUPERSAMPLE", "SneakerSpec", "render", "render_item", "sample_spec"]
