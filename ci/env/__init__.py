"""The machine a session runs on: the Docker engine (docker_engine.py), the locked Python
install (lockinstall.py), the one Debian rootfs builder (rootfs.py) and the real PostgreSQL,
PgBouncer and Redis servers of the service tests (services/)."""
