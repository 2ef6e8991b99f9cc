"""``python -m callset.simulate --samples N --seed S --out DIR``."""

import sys

from callset.simulate.cli import main

sys.exit(main())
