"""`nox -s bench` (python -m ci.bench): consolidated vs split cognitive services, the gateway
vs a bare FastAPI app, and the harness's own speed. See docs/bench.md."""
