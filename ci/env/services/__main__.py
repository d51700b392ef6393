"""`python -m ci.env.services provision|provision-old|run` (see ci/env/services/__init__.py)."""

import sys

from ci.env.services import main

raise SystemExit(main(sys.argv[1:]))
