"""The HTTP side of the local stack: one request handler that serves the template's HTTP API as API
Gateway would (routes, the AWS_IAM check, payload 2.0 events and results, CORS) plus the local-only
``/_local/...`` routes over tools.local.leads.

tools.local.stack.LocalStack.serve_http binds it to a stack; everything AWS-shaped is the engine's
(tools.localstack).
"""

from __future__ import annotations

import base64
import json
import sys
import time
import traceback
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.local import leads
from tools.local.settings import (
    CARDS_PREFIX,
    EXPORT_PATH,
    HOT_PATH,
    LEADS_PREFIX,
    LOCAL_PREFIX,
    LOG_FILE,
    RESCORE_PATH,
)
from tools.localstack import Stack, path_is_known

if TYPE_CHECKING:
    from tools.local.stack import LocalStack

# Headers the HTTP layer owns; never copied from a handler's response.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


class Handler(BaseHTTPRequestHandler):
    local: LocalStack
    protocol_version = "HTTP/1.1"
    server_version = "leadscore-local"

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request is printed by _dispatch instead

    def _dispatch(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        path = unquote(split.path) or "/"
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        try:
            status, headers, payload = self._route(self.command, path, split.query, body)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            status, headers, payload = _json(
                500, {"message": f"Internal Server Error ({type(exc).__name__})"}
            )
        self._respond(status, headers, payload)
        if self.local.log_requests and not path.startswith(LOCAL_PREFIX + "/"):
            elapsed = (time.monotonic() - started) * 1000
            self.local.console(f"{self.command:<6} {path} -> {status}  ({elapsed:.0f} ms)")

    # One dispatcher serves every method: _route answers 405 where a path does not take it.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _route(
        self, method: str, path: str, query: str, body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        if path == LEADS_PREFIX or path.startswith(LEADS_PREFIX + "/"):
            if method != "GET":
                return _json(405, {"message": "Method Not Allowed"})
            return self._leads(path, query)
        if path == EXPORT_PATH:
            if method != "GET":
                return _json(405, {"message": "Method Not Allowed"})
            return 200, {"content-type": "application/x-ndjson"}, leads.export(self.local.stack)
        if path == RESCORE_PATH or path.startswith(RESCORE_PATH + "/"):
            if method != "POST":
                return _json(405, {"message": "Method Not Allowed"})
            return self._rescore(path, query, body)
        if path == HOT_PATH or path.startswith(CARDS_PREFIX + "/"):
            if method != "GET":
                return _json(405, {"message": "Method Not Allowed"})
            return self._api_view(path, query)
        stack = self.local.stack
        found = stack.route(method, path)
        if found is None:
            if method == "OPTIONS" and path_is_known(stack.routes, path):
                return 204, self._cors(preflight=True), b""
            if path_is_known(stack.routes, path):
                return _json(405, {"message": "Method Not Allowed"})
            return _json(404, {"message": "Not Found"})
        route, _ = found
        refused = stack.authorize(route, list(self.headers.items()))
        if refused is not None:  # an AWS_IAM route without credentials: API Gateway's 403
            return _from_lambda(refused)
        event = stack.http_event(
            method,
            path,
            body,
            list(self.headers.items()),
            query or None,
            source_ip=self.client_address[0],
        )
        stamp_request_time(event)
        try:
            result = stack.invoke(route.function, event)
        except Exception as exc:
            self.local.console(f"{route.function} raised {type(exc).__name__}: {exc} (see {LOG_FILE})")
            if self.local.handler_log is not None:
                traceback.print_exc(file=self.local.handler_log)
            return _json(500, {"message": "Internal Server Error"})
        status, headers, payload = _from_lambda(result)
        headers.update(self._cors())
        return status, headers, payload

    def _cors(self, *, preflight: bool = False) -> dict[str, str]:
        """The CORS headers API Gateway adds for the template's CorsConfiguration."""
        origin = self.headers.get("origin")
        config = _cors_config(self.local.stack)
        if not origin or not config:
            return {}
        allowed = config.get("allowOrigins") or []
        allowed = [allowed] if isinstance(allowed, str) else allowed
        if origin not in allowed and "*" not in allowed:
            return {}
        headers = {"access-control-allow-origin": origin, "vary": "origin"}
        if preflight:
            headers["access-control-allow-methods"] = ",".join(config.get("allowMethods") or ["*"])
            headers["access-control-allow-headers"] = ",".join(config.get("allowHeaders") or ["*"])
            if config.get("maxAge") is not None:
                headers["access-control-max-age"] = str(config["maxAge"])
        return headers

    def _leads(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        rest = path[len(LEADS_PREFIX) :].strip("/")
        if rest:  # one lead: the Lead API's score card, never the raw item (leases, digests, versions)
            return self._api_view(CARDS_PREFIX + "/" + rest, query)
        try:
            params = dict(parse_qsl(query))
            limit = max(1, min(int(params.get("limit", "20")), 500))
            board = leads.leaderboard(self.local.stack, limit)
        except ImportError as exc:
            return _json(501, {"message": f"lead repository not available: {exc}"})
        except ValueError as exc:
            return _json(400, {"message": str(exc)})
        return _json(
            200, {"leads": [leads.leaderboard_row(rank, lead) for rank, lead in enumerate(board, 1)]}
        )

    def _rescore(self, path: str, query: str, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        """/_local/rescore[/{lead}]: ``leads rescore --local`` (local only, no IAM)."""
        from leadscore.errors import RulesUnavailableError, RulesValidationError

        params = dict(parse_qsl(query))
        try:
            threshold = float(params["threshold"]) if params.get("threshold") else None
            ref = path[len(RESCORE_PATH) + 1 :] or None
            return _json(
                200,
                leads.rescore(self.local.stack, ref, body or None, threshold, params.get("alerts") == "1"),
            )
        except RulesValidationError as exc:
            return _json(422, {"error": "invalid_rules", "message": "; ".join(exc.errors)})
        except RulesUnavailableError:
            return _json(409, {"error": "no_rules", "message": "no rules are published"})
        except LookupError:
            return _json(404, {"error": "lead_not_found", "message": "no such lead"})
        except ValueError as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})

    def _api_view(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        """/_local/hot and /_local/cards/{lead}: the Lead API's JSON, served without IAM (local only)."""
        from leadscore.api.errors import InvalidFieldError, LeadNotFoundError
        from pydantic import ValidationError

        params = dict(parse_qsl(query))
        try:
            if path == HOT_PATH:
                return _json(200, leads.hot(self.local.stack, params))
            history = int(params.get("history", "25"))
            return _json(
                200, leads.card(self.local.stack, path[len(CARDS_PREFIX) + 1 :], max(0, min(history, 500)))
            )
        except LeadNotFoundError:
            return _json(404, {"error": "lead_not_found", "message": "no such lead"})
        except InvalidFieldError as exc:
            return _json(400, {"error": "bad_request", "message": exc.message, "details": exc.details})
        except ValidationError as exc:
            details = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
            return _json(422, {"error": "invalid", "message": "; ".join(details), "details": details})
        except ValueError as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})

    def _respond(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() in _HOP_BY_HOP:
                continue
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, str(item))
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def stamp_request_time(event: dict[str, Any]) -> None:
    """Stamp API Gateway's receive time (``requestContext.time``/``timeEpoch``) from leadscore's clock.

    Real time unless the clock is pinned: the demo pins it to score its dated samples the same whatever
    day it runs, and its requests must then be received at that time too. Otherwise an event without its
    own timestamp (most form posts) would occur on the real day, after the pinned time that scored it:
    one clock, not two, in the lead's history."""
    from leadscore import clock

    at = clock.now()
    context = event.setdefault("requestContext", {})
    context["timeEpoch"] = int(at.timestamp() * 1000)
    context["time"] = at.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body, default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _from_lambda(result: Any) -> tuple[int, dict[str, Any], bytes]:
    """An HTTP response from a payload 2.0 handler result, as API Gateway maps it."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # 2.0 format: anything else is a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result, default=_default)
        return 200, {"content-type": "application/json"}, body.encode()
    headers: dict[str, Any] = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name).lower()] = [str(v) for v in values]
    if result.get("cookies"):
        headers["set-cookie"] = [str(c) for c in result["cookies"]]
    raw = result.get("body")
    if raw is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(raw)
    else:
        payload = str(raw).encode()
    return int(result["statusCode"]), headers, payload


_cors_cache: dict[int, dict[str, Any]] = {}


def _cors_config(stack: Stack) -> dict[str, Any]:
    key = id(stack)
    if key not in _cors_cache:
        config: dict[str, Any] = {}
        for resource in stack.translation.of_type("AWS::ApiGatewayV2::Api").values():
            body = (resource.get("Properties") or {}).get("Body") or {}
            if isinstance(body.get("x-amazon-apigateway-cors"), dict):
                config = body["x-amazon-apigateway-cors"]
        _cors_cache[key] = config
    return _cors_cache[key]
