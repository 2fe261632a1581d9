"""`python -m search` is the `carematch` command."""
import sys

from .cli import main

sys.exit(main())
