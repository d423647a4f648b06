"""``python -m fcn_lib`` is the ``fcn-sneakers`` command (and what ``torchrun -m fcn_lib`` runs)."""

import sys

from fcn_lib.cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports this module
    sys.exit(main())
