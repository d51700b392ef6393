"""Container image builds: `python -m ci.images build|plan` (build.py), on the debootstrapped
Debian base image of base.py."""
