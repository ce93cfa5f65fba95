"""gunicorn's settings for the service (deploy/workflow-web.service): `gunicorn -c deploy/gunicorn.conf.py`.

With PROMETHEUS_MULTIPROC_DIR set, each worker keeps its counts in files there and a scrape of any worker
adds up the whole directory (web/metrics.py). The directory is emptied before the server starts
(workflow-metrics-dir.service); the hook below tells prometheus-client when a worker is gone.
"""

import multiprocessing
import os

wsgi_app = "web:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000")  # behind the reverse proxy; never on a public address
# Sync workers idle while PostgreSQL commits: a little more than one per core (docs/performance.md).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = 30
graceful_timeout = 20
accesslog = "-"
# The access log names paths, which hold case ids but no case data; keep it with the service's other logs.
control_socket_disable = True


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
