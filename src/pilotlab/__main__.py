"""`python -m pilotlab` is the `pilotlab` console script."""

import sys

from pilotlab.cli import main

sys.exit(main())
