"""``python -m chimaera_codegen`` entry point."""
import sys

from .cli import main

sys.exit(main())
