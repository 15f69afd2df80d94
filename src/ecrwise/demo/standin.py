"""The embedded AWS stand-in: moto as a real HTTP server on 127.0.0.1, in this process.

ecrwise reaches it only through `endpoint_url` / AWS_ENDPOINT_URL, exactly as it would reach AWS. Running it
in-process lets the estate builder set facts the stand-in's API cannot express (push times, pull times).
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator

DEMO_ACCOUNT = "123456789012"  # moto's default account
DEMO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class StandIn:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # imported lazily: moto is a demo/test extra

        from ecrwise.demo import ecr_registry_api

        ecr_registry_api.install()  # the ECR registry APIs moto lacks (pull-through cache, creation templates)

        # Werkzeug logs every request to stderr; the demo's output is ours.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource (between tests)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).read()


@contextmanager
def stand_in_env(url: str) -> Iterator[None]:
    """Point boto3 in this process at the stand-in, with dummy credentials, for the duration."""
    saved = {k: os.environ.get(k) for k in [*DEMO_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_PROFILE",
                                              "AWS_DEFAULT_REGION"]}
    os.environ.update(DEMO_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
