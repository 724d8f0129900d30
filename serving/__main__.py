"""``python -m serving ARTIFACT``: the same server as ``featurekit serve``."""

import sys

from .server import main

sys.exit(main())
