"""The local cloud's HTTP front: the control endpoint, throttling and faults, then moto."""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import errors
from .control import ApiRequest, ConfigError, Controller
from . import cloudformation, public_parameters
from .cloudformation.custom import BROKER, RESPONSE_PREFIX
from .extension import install

CONTROL_PREFIX = "/_automirror"
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class LocalCloudApp:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.moto = DomainDispatcherApplication(create_backend_app)
        self._routes: dict[tuple[str, str], Callable[[dict], Any]] = {
            ("GET", "/health"): lambda _: {"ready": True},
            ("GET", "/config"): lambda _: controller.snapshot(),
            ("POST", "/throttling"): controller.configure_throttling,
            ("POST", "/faults"): controller.configure_faults,
            ("POST", "/faults/script"): lambda body: controller.script_errors(body.get("action"), body.get("errors")),
            ("POST", "/clock"): controller.configure_clock,
            ("POST", "/target-health"): controller.set_target_health,
            ("GET", "/calls"): lambda _: controller.call_counts(),
            ("POST", "/calls/reset"): self._reset_calls,
            ("POST", "/reset"): self._reset_all,
            ("POST", "/lambda-endpoint"): self._set_lambda_endpoint,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX):] or "/")
        request = _describe(environ)
        if request is not None:
            refusal = self.controller.admit(request)
            if refusal is not None:
                status, headers, body = errors.render(request.service, request.protocol, refusal)
                start_response(f"{status} {_REASONS.get(status, 'Error')}", headers + [("Content-Length", str(len(body)))])
                return [body]
        return self.moto(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> Iterable[bytes]:
        if route.startswith(RESPONSE_PREFIX) and environ.get("REQUEST_METHOD") == "PUT":
            # A custom resource's function answering its ResponseURL (CloudFormation's presigned S3 URL on AWS).
            request_id = route[len(RESPONSE_PREFIX):]
            try:
                body = json.loads(_read_body(environ) or "{}")
            except json.JSONDecodeError as exc:
                return _json(start_response, 400, {"error": f"the response is not JSON: {exc}"})
            return _json(start_response, 200, BROKER.respond(request_id, body))
        handler = self._routes.get((environ.get("REQUEST_METHOD", "GET"), route.rstrip("/") or "/"))
        if handler is None:
            return _json(start_response, 404, {"error": f"no control route {environ.get('REQUEST_METHOD')} {route}",
                                               "routes": sorted(f"{m} {CONTROL_PREFIX}{p}" for m, p in self._routes)})
        try:
            raw = _read_body(environ)
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ConfigError("the body must be a JSON object")
            return _json(start_response, 200, handler(body))
        except json.JSONDecodeError as exc:
            return _json(start_response, 400, {"error": f"the body is not JSON: {exc}"})
        except ConfigError as exc:
            return _json(start_response, 400, {"error": str(exc)})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # A field of the wrong JSON type (a string seed, a number for a list): the caller's mistake.
            return _json(start_response, 400, {"error": f"malformed {route} body: {exc!r}"})

    def _reset_calls(self, _: dict) -> dict:
        self.controller.reset_call_counts()
        return self.controller.call_counts()

    @staticmethod
    def _set_lambda_endpoint(body: dict) -> dict:
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith("http"):
            raise ConfigError("the body must be {\"url\": \"http://HOST:PORT\"} (the local Lambda host)")
        BROKER.lambda_endpoint = url
        return {"lambdaEndpoint": url}

    def _reset_all(self, _: dict) -> dict:
        moto_api_backend.reset()
        self.controller.reset()
        return {"reset": True}


_REASONS = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


def _json(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(f"{status} {_REASONS.get(status, 'OK')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict[str, Any]) -> str:
    """Reads the body and puts it back, so moto can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        data = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated"):
        # Chunked bodies (no Content-Length): werkzeug decodes them and marks the stream as ending.
        data = environ["wsgi.input"].read()
    else:
        data = b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data.decode("utf-8", errors="replace")


def _describe(environ: dict[str, Any]) -> ApiRequest | None:
    """Service, region and action of an AWS API call, or None when it is not one (moto-api, ...)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return None
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    region, service = (match.group(1), match.group(2)) if match else ("us-east-1", "unknown")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return ApiRequest(service, region, target.rsplit(".", 1)[-1], "json", {})
    params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(_read_body(environ), keep_blank_values=True))
    action = params.get("Action")
    if not action:
        return None
    return ApiRequest(service, region, action, "query", params)


def build_server(host: str, port: int, controller: Controller, lambda_endpoint: str | None = None) -> BaseWSGIServer:
    install(controller)
    cloudformation.install(controller)
    public_parameters.install()
    app = LocalCloudApp(controller)
    _warm_up(app)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    bound_host, bound_port = server.server_address[:2]
    BROKER.own_url = f"http://{bound_host}:{bound_port}"
    BROKER.lambda_endpoint = lambda_endpoint or BROKER.lambda_endpoint
    return server


def _warm_up(app: LocalCloudApp) -> None:
    """Builds the EC2 and ELBv2 apps now, so the first test request does not pay for it."""
    for host in ("ec2.us-east-1.amazonaws.com", "elasticloadbalancing.us-east-1.amazonaws.com"):
        backend = app.moto.get_backend_for_host(host)
        if backend and backend not in app.moto.app_instances:
            app.moto.app_instances[backend] = create_backend_app(backend)
