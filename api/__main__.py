"""`python -m mgd` runs the command line."""

import sys

from mgd.cli import main

sys.exit(main())
