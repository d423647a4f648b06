"""``python -m fcn_lib`` is the ``fcn-sneakers`` command (and what ``torchrun -m fcn_lib`` runs)."""

import sys

from fcn_lib.cli import main

sys.exit(main())
