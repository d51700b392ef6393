"""The Celery application (Redis broker), shared by the worker and by the gateway (sender)."""

from __future__ import annotations

import ssl

from celery import Celery

from aiwfe.core.settings import Settings, get_settings

QUEUE = "aiwfe.workflows"
RUN_TASK = "aiwfe.run_workflow"


def broker_ssl(settings: Settings) -> dict[str, object] | None:
    options = settings.redis_tls_options()
    if not options:
        return None
    return {**options, "ssl_cert_reqs": ssl.CERT_REQUIRED}


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("aiwfe", broker=settings.redis_url(), include=["aiwfe.worker.tasks"])
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,  # ack after the task ran: a dying worker loses nothing
        task_reject_on_worker_lost=True,  # ...and its message goes back to the queue
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # The gateway publishes inside a request: give up within ~2 s and answer 503.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        broker_transport_options={
            # An unacked message is redelivered after this long; runs take a lease, so a
            # redelivery while the first worker is alive waits instead of running twice.
            "visibility_timeout": settings.worker_visibility_timeout,
        },
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        # rediss://: the broker's certificate is verified like the other Redis clients'.
        broker_use_ssl=broker_ssl(settings),
    )
    return app


_app: Celery | None = None


def get_celery() -> Celery:
    global _app
    if _app is None:
        _app = create_celery()
    return _app
