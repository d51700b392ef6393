"""aiwfe-worker: the Celery worker (WORKER_CONCURRENCY processes) plus /health, /ready and
/metrics on AIWFE_PORT (default 8083). SIGTERM: no new message is taken and no new step
starts; steps in flight get AIWFE_WORKER_SHUTDOWN_GRACE_SECONDS to finish, and their runs go
back to the queue (re-sent, or redelivered with acks late) for another worker to resume."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import tempfile
import threading

import structlog


def drain_on_sigterm(grace_seconds: float) -> None:
    """On the first SIGTERM (Celery's warm shutdown) runs stop before their next step; steps
    still running after `grace_seconds` are cancelled (cold shutdown): their messages go back
    to the queue and another worker resumes those runs."""
    from celery.signals import worker_shutting_down

    def draining(how: str = "", **_: object) -> None:
        from aiwfe.worker.executor import DRAINING

        if how != "Warm" or DRAINING.is_set():
            return
        DRAINING.set()
        cold = threading.Timer(grace_seconds, os.kill, (os.getpid(), signal.SIGQUIT))
        cold.daemon = True
        cold.start()

    worker_shutting_down.connect(draining, weak=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="aiwfe-worker",
        description=__doc__,
        epilog="Arguments after -- go to `celery worker` unchanged.",
    )
    parser.add_argument("celery_args", nargs="*", help="extra `celery worker` arguments")
    argv = parser.parse_args(argv).celery_args
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # before prometheus_client is imported
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aiwfe-metrics-")
    from celery.signals import setup_logging, worker_process_init, worker_ready

    from aiwfe.core.logging import configure_logging
    from aiwfe.core.settings import get_settings
    from aiwfe.worker.celery_app import QUEUE, RUN_TASK, get_celery
    from aiwfe.worker.health import start_health_server
    from aiwfe.worker.sweeper import start_sweeper

    settings = get_settings()
    settings.signing_key()  # the service key for calls to cognitive: fail now if missing

    @setup_logging.connect
    def _logging(**_: object) -> None:
        configure_logging(settings.log_level, "worker")

    configure_logging(settings.log_level, "worker")

    @worker_process_init.connect
    def _child(**_: object) -> None:
        # Exporter threads do not survive fork: each pool process sets up its own.
        from aiwfe.core.telemetry import setup_tracing

        setup_tracing("aiwfe-worker", settings.otel_endpoint)

    drain_on_sigterm(settings.worker_shutdown_grace_seconds)

    @worker_ready.connect
    def _ready(**_: object) -> None:
        # /health answers once the consumer is up (and the SIGTERM handlers are installed).
        start_health_server(settings, settings.listen_port("worker"))
        start_sweeper(
            settings, lambda run_id: app.send_task(RUN_TASK, args=[run_id], task_id=run_id)
        )
        structlog.get_logger("aiwfe.worker").info(
            "worker ready", concurrency=settings.worker_concurrency
        )

    app = get_celery()
    import aiwfe.worker.tasks  # noqa: F401 - registers the tasks

    app.worker_main(
        argv=[
            "worker",
            f"--loglevel={settings.log_level.upper()}",
            f"--concurrency={settings.worker_concurrency}",
            "--queues",
            QUEUE,
            "--hostname",
            f"aiwfe@{socket.gethostname()}-{os.getpid()}",
            "--without-gossip",
            "--without-mingle",
            *(argv or []),
        ]
    )


if __name__ == "__main__":
    main()
