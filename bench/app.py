"""The service as gunicorn serves it in the HTTP benchmark, plus a hello-world endpoint as the ceiling.

`gunicorn 'bench.app:create_app()'`: the real app from `web.create_app`, with one extra route,
GET /bench/hello, that touches neither the database nor the engine. It exists only here.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from web import create_app as create_service


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = create_service(test_config)
    app.add_url_rule("/bench/hello", "bench_hello", lambda: "hello")
    return app
