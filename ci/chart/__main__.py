"""`python -m ci.chart lint|template|schema|docs|crds` (see ci/chart/chart.py)."""

import sys

from ci.chart.chart import main

sys.exit(main())
