"""`python -m ci.cluster up|down|status|build-node-image|node-image` (see ci/cluster/kind.py)."""

import sys

from ci.cluster.kind import main

raise SystemExit(main(sys.argv[1:]))
