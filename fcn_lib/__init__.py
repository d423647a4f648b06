"""FCN Sneakers: the small package the book's notebooks share.

Import the modules a chapter uses by name (``from fcn_lib import models, train``); importing the
package itself is instant and has no side effects.
"""

__version__ = "0.1.0"
