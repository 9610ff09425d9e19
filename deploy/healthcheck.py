"""Compose's health check for `web`: /livez/ from gunicorn, under a Host that Django accepts.

    python deploy/healthcheck.py             # liveness: exit 0 on 200, 1 on anything else
    python deploy/healthcheck.py /healthz/   # readiness (database, model), for an operator
    PORT=8001 python deploy/healthcheck.py /healthz   # the proxy's rate limiter (compose's limiter)

Liveness only: a restart cannot bring back a database or a checkpoint, and an unhealthy web would
keep the proxy from starting, so pages the pools could still serve would not be served.

Asked as 127.0.0.1 it would be a 400 (not in a real ALLOWED_HOSTS), so it names the first
ALLOWED_HOSTS entry. Standard library only; deploy/topology.py runs it exactly as compose does.
"""

from __future__ import annotations

import http.client
import os
import sys


def allowed_host() -> str:
    """The first ALLOWED_HOSTS entry as a Host header value (`.example.org` -> `example.org`)."""
    first = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
    return "localhost" if first in ("", "*") else first


def main(path: str = "/livez/") -> int:
    port = int(os.environ.get("PORT") or 8000)  # the Procfile's web line binds ${PORT:-8000}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        connection.request("GET", path, headers={"Host": allowed_host()})
        response = connection.getresponse()
        body = response.read(300).decode("utf-8", "replace")
    except OSError as error:
        print(f"{path}: {error}")
        return 1
    finally:
        connection.close()
    print(f"{path}: {response.status} {body}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
