"""The embedded AWS stand-in: moto as a real HTTP server on 127.0.0.1, in this process.

ecrwise reaches it only through `endpoint_url` / AWS_ENDPOINT_URL, exactly as it would reach AWS. Running it
in-process lets the estate builder set facts the stand-in's API cannot express (push times, pull times).
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

DEMO_ACCOUNT = "123456789012"  # moto's default account
DEMO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class StubFront:
    """WSGI in front of moto: the calls moto lacks (App Runner, Inspector's ListCoverage) go to the stubs in
    `demo/apprunner_api.py` and `demo/inspector_api.py`; everything else to moto. A request names its service,
    region and access key in its SigV4 credential scope, as AWS reads them; the account is moto's for that
    key, so a role assumed into another account reaches that account's state."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]]) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from ecrwise.demo import apprunner_api, inspector_api

        path = environ.get("PATH_INFO", "")
        if path == "/moto-api/reset":
            apprunner_api.reset()
            inspector_api.reset()
        scope = (environ.get("HTTP_AUTHORIZATION") or "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        if len(scope) < 4:
            return self.moto_app(environ, start_response)
        key, region, service = scope[0], scope[2], scope[3]
        if service == "apprunner":
            content_type = apprunner_api.CONTENT_TYPE
            operation = (environ.get("HTTP_X_AMZ_TARGET") or "").rpartition(".")[2]
            answer = lambda acct, body: apprunner_api.handle(acct, region, operation, body)  # noqa: E731
        elif service == "inspector2" and path == "/coverage/list":
            content_type = inspector_api.CONTENT_TYPE
            answer = lambda acct, body: inspector_api.list_coverage(acct, region, body)  # noqa: E731
        else:
            return self.moto_app(environ, start_response)
        from moto.iam.models import get_account_id_from

        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        status, doc = answer(get_account_id_from(key), json.loads(raw or b"{}"))
        data = json.dumps(doc).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}",
                       [("Content-Type", content_type), ("Content-Length", str(len(data))),
                        ("x-amzn-RequestId", "stand-in")])
        return [data]


def _server(ip_address: str) -> Any:
    """moto's ThreadedMotoServer serving its app behind `StubFront` (its own start-up, with the front added)."""
    from moto.server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = StubFront(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=ip_address, port=0, verbose=False)


class StandIn:
    def __init__(self) -> None:
        from ecrwise.demo import ecr_registry_api  # imported lazily: moto is a demo/test extra

        ecr_registry_api.install()  # the ECR registry APIs moto lacks (pull-through cache, creation templates)

        # Werkzeug logs every request to stderr; the demo's output is ours.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = _server("127.0.0.1")
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
