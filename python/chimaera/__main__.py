"""``python -m chimaera``: the chimaera command line (see chimaera.cli)."""
import sys

from .cli import main

sys.exit(main())
