"""Compose's health check for `web`: /healthz/ from gunicorn, under a Host that Django accepts.

    python deploy/healthcheck.py    # exit 0 on 200, 1 on anything else

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


def main() -> int:
    port = int(os.environ.get("PORT") or 8000)  # the Procfile's web line binds ${PORT:-8000}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        connection.request("GET", "/healthz/", headers={"Host": allowed_host()})
        response = connection.getresponse()
        body = response.read(300).decode("utf-8", "replace")
    except OSError as error:
        print(f"healthz: {error}")
        return 1
    finally:
        connection.close()
    print(f"healthz: {response.status} {body}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
