"""The local kind cluster: create/reuse it (kind.py, with the docker shim of
kind_docker_shim.py), install the stack on it (stack.py, release.py) and collect diagnostics
when an install fails (diagnostics.py). The air-gapped node image lives in ci/nodeimage/
(see README.md: its cache key hashes its own sources). `python -m ci.cluster --help`."""
