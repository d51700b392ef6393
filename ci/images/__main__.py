"""`python -m ci.images build|plan` (see ci/images/build.py)."""

import sys

from ci.images.build import main

sys.exit(main())
