"""The local stack behind `make serve` and `make demo`: a moto server, the template's stack in it,
the HTTP API served by a small HTTP server, and the event sources pumped in the background.

Everything AWS-shaped is done by the engine (tools.localstack); this module only wires it to a
socket and a terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.localstack import PumpResult, Stack, local_env, path_is_known

RULES_FILE = Path("rules/example.yaml")  # compiled as `leadscore rules publish` does
# The SendGrid key pair made for the sample events (events/README.md): never configured anywhere real.
SENDGRID_TEST_PUBLIC_KEY = Path("events/keys/sendgrid-test-public.b64")
SENDGRID_TEST_PRIVATE_KEY = Path("events/keys/sendgrid-test-private.pem")
SENDGRID_KEYS_ENV = "SENDGRID_WEBHOOK_PUBLIC_KEYS"
SENDGRID_SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
LOG_FILE = Path(".local/lambda.log")
LOCAL_PREFIX = "/_local"
LEADS_PREFIX = "/_local/leads"
HOT_PATH = "/_local/hot"
CARDS_PREFIX = "/_local/cards"
EXPORT_PATH = "/_local/export"  # every lead with its history, JSON lines: `leadscore review --local`
RESCORE_PATH = "/_local/rescore"  # POST: `leadscore leads rescore --local` (one lead, or every lead)
# The Lead API's routes use API Gateway's AWS_IAM authorizer. moto cannot verify SigV4, so locally any
# Authorization header is accepted (tools.localstack.iam_authorizer); without one: API Gateway's 403.
LOCAL_AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=local-dev/20260101/us-east-1/execute-api/aws4_request"

# Headers the HTTP layer owns; never copied from a handler's response.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


# `make serve` takes template parameters from the documented local variables (tools.localstack.local_env),
# so a website can be tried locally, e.g.
# LEADSCORE_FORM_REDIRECT_URLS=https://www.example.com/thanks ALLOWED_ORIGINS=http://localhost:8000
FORM_REDIRECT_URLS_ENV = "LEADSCORE_FORM_REDIRECT_URLS"


class SetupError(Exception):
    """The local stack cannot start (e.g. the rules file is missing)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Console:
    """Thread-safe printing to the terminal, whatever handlers do with sys.stdout meanwhile."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, text: str = "") -> None:
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()


class LocalStack:
    """A moto server with the template's stack, ready to serve and pump."""

    def __init__(self, root: Path, console: Console, *, rules: Path = RULES_FILE) -> None:
        self.root = root
        self.console = console
        self.rules = rules if rules.is_absolute() else root / rules
        self.log_path = root / LOG_FILE
        self._moto: Any = None
        self._log: TextIO | None = None
        self._stdout: TextIO | None = None
        self._stack: Stack | None = None
        self._http: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.log_requests = True

    def attach(self, stack: Stack) -> None:
        """Serve a stack created elsewhere (the tests' in-process one) instead of starting one."""
        self._stack = stack

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise RuntimeError("the local stack is not started")
        return self._stack

    # ------------------------------------------------------------------------------------------ setup
    def start(self) -> None:
        if not self.rules.is_file():
            raise SetupError(
                f"rules file {self._rel(self.rules)} not found: the scorer needs a rules document "
                "(write one, or validate yours with `leadscore rules validate`)"
            )
        rules_body = self._compile_rules()
        try:
            certificate = local_env.trust_certificate_file(os.environ, self.root)
        except local_env.LocalEnvError as exc:
            raise SetupError(str(exc)) from None
        from moto.server import ThreadedMotoServer

        port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        endpoint = f"http://127.0.0.1:{port}"
        for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k == "AWS_PROFILE"]:
            del os.environ[key]
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
            }
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", buffering=1, encoding="utf-8")
        # Handlers (Powertools logs, EMF metrics) print to sys.stdout, often through a stream captured
        # at import time: send the process's stdout to the log file; the console keeps the terminal.
        self._stdout = sys.stdout
        sys.stdout = self._log
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request lines
        self._log.write(f"\n==== local stack started {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n")
        started = time.monotonic()
        parameters, key_note = self._parameters()
        parameters.update(local_env.parameters_from(os.environ))  # docs/connect.md's local variables
        self._stack = Stack.create(
            self.root / "template.yaml",
            parameters=parameters,
            endpoint_url=endpoint,
            handler_output=self._log,
        )
        version = self._stack.upload_rules(rules_body)
        env = self._stack.env("ScorerFunction")
        self.console(
            f"moto server   {endpoint}  (stack {self._stack.name}, {time.monotonic() - started:.1f}s)"
        )
        target = f"s3://{env['RULES_BUCKET']}/{env['RULES_KEY']}"
        self.console(f"rules         {self._rel(self.rules)} -> {target} (version {version})")
        self.console(f"sendgrid key  {key_note}")
        site = self._stack.env("IngestFunction").get("LEADSCORE_FORM_REDIRECT_URLS") or "none"
        self.console(f"redirects     {site}  (set ${FORM_REDIRECT_URLS_ENV} to allow yours)")
        for variable, parameter in local_env.PARAMETER_VARIABLES.items():
            if parameter in parameters:
                self.console(f"{variable:<13} from ${variable}")
        if certificate is not None:
            variable = local_env.CERTIFICATE_FILE_VARIABLE
            self.console(f"sns cert      {self._rel(certificate)} (${variable}, no network)")
        self.console(f"handler logs  {self._rel(self.log_path)}")

    def _compile_rules(self) -> bytes:
        """The rules file validated and compiled to the JSON the scorer loads, exactly as
        ``leadscore rules publish`` does; a bad file stops the start with every error listed (before
        anything runs: the errors belong on the terminal, not in the handler log)."""
        from leadscore.errors import RulesValidationError

        from tools.rules_source import compiled_json

        try:
            return compiled_json(self.rules)
        except RulesValidationError as exc:
            listed = "\n".join(f"  - {error}" for error in exc.errors)
            raise SetupError(
                f"rules file {self._rel(self.rules)}: {len(exc.errors)} error(s)\n{listed}"
            ) from None

    def _parameters(self) -> tuple[dict[str, str], str]:
        """Template parameters for local use: the SendGrid verification key from the environment, or
        else the test key the sample events are signed with."""
        own = os.environ.get(SENDGRID_KEYS_ENV, "").strip()
        if own:
            return {"SendgridWebhookPublicKeys": own}, f"from ${SENDGRID_KEYS_ENV}"
        test_key = self.root / SENDGRID_TEST_PUBLIC_KEY
        if test_key.is_file():
            note = f"test key {SENDGRID_TEST_PUBLIC_KEY} (set ${SENDGRID_KEYS_ENV} to use yours)"
            return {"SendgridWebhookPublicKeys": test_key.read_text().strip()}, note
        return {}, f"none: /webhooks/sendgrid answers 401 (set ${SENDGRID_KEYS_ENV})"

    def _rel(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(self.root))
        return str(path)

    # ------------------------------------------------------------------------------------------ HTTP
    def serve_http(self, host: str, port: int) -> str:
        """Serve the template's HTTP API (and /_local/leads) on host:port in a thread; returns its URL."""
        handler = type("Handler", (_Handler,), {"local": self})
        self._http = ThreadingHTTPServer((host, port), handler)
        self._http.daemon_threads = True
        thread = threading.Thread(target=self._http.serve_forever, name="http", daemon=True)
        thread.start()
        self._threads.append(thread)
        return f"http://{host}:{self._http.server_port}"

    def describe_routes(self, base: str) -> None:
        for route in self.stack.routes:
            auth = f"  [{route.auth}]" if route.auth else ""
            self.console(f"  {route.method:<6} {base}{route.path}  -> {route.function}{auth}")
        if any(route.auth == "AWS_IAM" for route in self.stack.routes):
            self.console(
                "  [AWS_IAM] routes: API Gateway checks SigV4; locally ANY Authorization header is accepted,"
                f" e.g. -H 'Authorization: {LOCAL_AUTHORIZATION}' (none: 403)"
            )
        self.console(f"  {'GET':<6} {base}{LEADS_PREFIX}?limit=20  (local only: leaderboard, every tier)")
        self.console(f"  {'GET':<6} {base}{LEADS_PREFIX}/{{email}}  (local only: one lead's score card)")
        self.console(f"  {'GET':<6} {base}{HOT_PATH}?tier=&limit=  (local only: GET /leads without IAM)")
        self.console(
            f"  {'GET':<6} {base}{CARDS_PREFIX}/{{lead}}  (local only: GET /leads/{{lead}} without IAM)"
        )
        self.console(
            f"  {'GET':<6} {base}{EXPORT_PATH}  (local only: leads and histories, for leadscore review)"
        )
        self.console(
            f"  {'POST':<6} {base}{RESCORE_PATH}[/{{lead}}]  (local only: leadscore leads rescore --local)"
        )

    # ------------------------------------------------------------------------------------------ pumping
    def pump(self) -> tuple[list[PumpResult], list[dict[str, Any]]]:
        """Drain queue -> scorer -> stream -> notifier until idle; report batches and notifications."""
        results = self.stack.drain(timeout=20)
        for result in results:
            self.report(result)
        notifications = self.stack.inbox()
        for note in notifications:
            self.print_notification(note)
        for event in self.stack.lead_events():
            detail = event.get("detail") or {}
            change = detail.get("change") or {}
            moved = f"  {change.get('from')} -> {change.get('to')}" if "to" in change else ""
            self.console(f"EVENT  {event.get('detail-type')}  lead {detail.get('lead_id')}{moved}")
        return results, notifications

    def report(self, result: PumpResult) -> None:
        first_lines = [e.strip().splitlines()[0] for e in result.errors if e.strip()]
        errors = f"\n              error: {shorten('; '.join(first_lines), 200)}" if first_lines else ""
        if result.source == "EventsQueue" or result.function == "ScorerFunction":
            line = f"scored batch  {result.records} event(s) from {result.source}"
        else:
            line = f"{result.function:<13} {result.records} record(s) from {result.source} stream"
        if result.failed:
            line += f", {result.failed} failed (retried)"
        if result.to_dlq:
            line += f", {result.to_dlq} given up (sent to the OnFailure destination)"
        if result.errors or result.failed or result.source == "EventsQueue":
            self.console(line + errors)

    def print_notification(self, note: dict[str, Any]) -> None:
        self.console(f"ALERT  {note.get('Subject') or '(no subject)'}")
        for line in describe_message(str(note.get("Message", ""))):
            self.console(f"       {line}")

    def pump_forever(self, interval: float = 0.5) -> None:
        def loop() -> None:
            failures = 0
            while not self._stop.wait(interval):
                try:
                    self.pump()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    if failures == 1 and not self._stop.is_set():
                        self.console(f"pump error: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=loop, name="pump", daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------------------------------ leads
    def leaderboard(self, limit: int = 20) -> list[Any]:
        from leadscore.dal.leads import LeadRepository

        with self.stack.environment("ScorerFunction") as env:  # every lead, cold ones too (a Scan)
            leads = [s for s in LeadRepository(env["LEADS_TABLE"]).all_leads() if s.card and s.email]
        leads.sort(key=lambda s: (-(s.card.score if s.card else 0), s.email or ""))
        return leads[:limit]

    def lead(self, email: str) -> Any:
        from leadscore.dal.leads import LeadRepository

        with self.stack.environment("ScorerFunction") as env:
            return LeadRepository(env["LEADS_TABLE"]).get_by_email(email)

    def export(self) -> bytes:
        """Every lead and its history as a review export (JSON lines; one Scan of the table)."""
        from tools.review.cli import export_line, from_table

        with self.stack.environment("ScorerFunction") as env:
            lines = [
                export_line(state, history) + "\n" for state, history, _ in from_table(env["LEADS_TABLE"])
            ]
        return "".join(lines).encode()

    def hot(self, params: dict[str, str]) -> dict[str, Any]:
        """The Lead API's hot list (GET /leads), without its authorizer: for the CLI's --local."""
        from leadscore.api.models import HotListQuery
        from leadscore.api.service import hot_list
        from leadscore.dal.leads import LeadRepository

        query = HotListQuery.model_validate(params)
        with self.stack.environment("LeadsApiFunction") as env:
            return hot_list(LeadRepository(env["LEADS_TABLE"]), query, self._rules(env))

    def card(self, ref: str, history: int = 25) -> dict[str, Any]:
        """The Lead API's score card (GET /leads/{lead}), without its authorizer."""
        from leadscore.api.service import get_card
        from leadscore.dal.leads import LeadRepository

        with self.stack.environment("LeadsApiFunction") as env:
            return get_card(LeadRepository(env["LEADS_TABLE"]), ref, history, rules=self._rules(env))

    def rescore(
        self, ref: str | None, rules_json: bytes | None, threshold: float | None, alerts: bool = False
    ) -> dict[str, Any]:
        """``leads rescore --local``: rebuild one lead (``ref``: an email or lead id) or, with ``ref``
        None, every lead from its stored history, as ``leads rescore --table`` does, in-process against
        the local table. ``rules_json``: compiled rules (``rules publish``'s JSON), else the rules in
        force. Raises LookupError for an unknown lead."""
        from leadscore import clock
        from leadscore.dal.leads import LeadRepository
        from leadscore.errors import RulesUnavailableError
        from leadscore.models.event import lead_id_for_email
        from leadscore.rules.compiler import load_rules
        from leadscore.services.scoring import rescore_from_history

        with self.stack.environment("ScorerFunction") as env:
            rules = load_rules(rules_json) if rules_json else self._rules(env)
            if rules is None:
                raise RulesUnavailableError("no rules are published")
            repo = LeadRepository(env["LEADS_TABLE"])
            if ref is not None:
                ids = [lead_id_for_email(ref) if "@" in ref else ref]
            else:
                ids = [s.lead_id for s in repo.all_leads() if not s.merged_into]
            rows = []
            for lead_id in ids:
                state = rescore_from_history(repo, lead_id, rules, clock.now(), threshold, alerts=alerts)
                if state is None or state.card is None:
                    if ref is not None:
                        raise LookupError(ref)
                    continue
                card = state.card
                rows.append({"lead_id": lead_id, "score": card.score, "tier": card.tier, "grade": card.grade})
        return {"rules_version": rules.version, "rescored": rows}

    @staticmethod
    def _rules(env: dict[str, str]) -> Any:
        """The rules in force (they explain per-rule contributions), or None before any is published."""
        from leadscore.dal.rules_store import rules_store
        from leadscore.errors import RulesUnavailableError

        try:
            return rules_store(
                env["RULES_BUCKET"], env["RULES_KEY"], int(env["RULES_REFRESH_SECONDS"])
            ).current()
        except RulesUnavailableError:
            return None

    # ------------------------------------------------------------------------------------------ teardown
    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._moto is not None:
            with contextlib.suppress(Exception):
                self._moto.stop()
        if self._stdout is not None:
            sys.stdout = self._stdout
        if self._log is not None:
            self._log.close()


# ---------------------------------------------------------------------------------------------- HTTP handler
class _Handler(BaseHTTPRequestHandler):
    local: LocalStack
    protocol_version = "HTTP/1.1"
    server_version = "leadscore-local"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

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
            return 200, {"content-type": "application/x-ndjson"}, self.local.export()
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
            if self.local._log is not None:
                traceback.print_exc(file=self.local._log)
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
            leads = self.local.leaderboard(limit)
        except ImportError as exc:
            return _json(501, {"message": f"lead repository not available: {exc}"})
        except ValueError as exc:
            return _json(400, {"message": str(exc)})
        return _json(200, {"leads": [leaderboard_row(rank, lead) for rank, lead in enumerate(leads, 1)]})

    def _rescore(self, path: str, query: str, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        """/_local/rescore[/{lead}]: ``leads rescore --local`` (local only, no IAM)."""
        from leadscore.errors import RulesUnavailableError, RulesValidationError

        params = dict(parse_qsl(query))
        try:
            threshold = float(params["threshold"]) if params.get("threshold") else None
            ref = path[len(RESCORE_PATH) + 1 :] or None
            return _json(200, self.local.rescore(ref, body or None, threshold, params.get("alerts") == "1"))
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
                return _json(200, self.local.hot(params))
            history = int(params.get("history", "25"))
            return _json(200, self.local.card(path[len(CARDS_PREFIX) + 1 :], max(0, min(history, 500))))
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


def leaderboard_row(rank: int, lead: Any) -> dict[str, Any]:
    """One leaderboard row: who, the score and why, and where the full card is. Only what a person reads:
    no lease tokens, dedupe digests, versions or outbox internals of the stored item."""
    card = lead.card
    profile = lead.profile or {}
    name = " ".join(str(profile[k]) for k in ("first_name", "last_name") if profile.get(k))
    return {
        "rank": rank,
        "lead_id": lead.lead_id,
        "email": lead.email,
        "name": name or None,
        "company": profile.get("company"),
        "score": card.score if card else None,
        "fit": card.fit if card else None,
        "activity": card.activity if card else None,
        "tier": card.tier if card else None,
        "grade": card.grade if card else None,
        "reasons": list(card.reasons[:3]) if card else [],
        "card": f"{LEADS_PREFIX}/{lead.lead_id}",
    }


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
    import base64

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


# ---------------------------------------------------------------------------------------------- demo helpers
def resign_sendgrid(event: dict[str, Any], root: Path) -> bool:
    """Re-sign a signed SendGrid sample with a fresh timestamp (the saved one is stale after 5 minutes).

    Uses the sample key pair and leadscore's own signer; returns False (event unchanged) when either is
    missing.
    """
    headers = event.get("headers") or {}
    if not any(str(k).lower() == SENDGRID_SIGNATURE_HEADER for k in headers):
        return False
    private_key = root / SENDGRID_TEST_PRIVATE_KEY
    from tools.signing import signed_headers

    if not private_key.is_file():
        return False
    fresh = signed_headers(event_body(event), private_key.read_bytes())
    kept = {k: v for k, v in headers.items() if str(k).lower() not in {n.lower() for n in fresh}}
    event["headers"] = {**kept, **fresh}
    return True


def event_body(event: dict[str, Any]) -> bytes:
    """The bytes a payload 2.0 sample carries (its body, base64-decoded when flagged and valid)."""
    import base64
    import binascii

    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        with contextlib.suppress(binascii.Error, ValueError):
            return base64.b64decode(str(body), validate=True)
    return str(body).encode()


def replay_request(base_port: int, event: dict[str, Any], timeout: float = 30.0) -> tuple[int, bytes]:
    """Send a payload 2.0 sample event as a real HTTP request to the local server."""
    import http.client

    http_ctx = (event.get("requestContext") or {}).get("http") or {}
    method = str(http_ctx.get("method") or "POST").upper()
    path = str(event.get("rawPath") or http_ctx.get("path") or "/")
    raw_query = str(event.get("rawQueryString") or "")
    body = event.get("body")
    payload = event_body(event)
    headers = {
        str(k): str(v)
        for k, v in (event.get("headers") or {}).items()
        if str(k).lower() not in _DEMO_SKIP_HEADERS
    }
    if event.get("cookies"):
        headers["cookie"] = "; ".join(str(c) for c in event["cookies"])
    connection = http.client.HTTPConnection("127.0.0.1", base_port, timeout=timeout)
    try:
        target = path + (f"?{raw_query}" if raw_query else "")
        connection.request(method, target, body=payload if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, bytes]:
    """GET ``path`` from the local server."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


_DEMO_SKIP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "x-forwarded-port"}


def describe_message(message: str, width: int = 150) -> list[str]:
    """Readable lines for an SNS message: text as is; a JSON document (what an SQS subscriber gets
    from a ``MessageStructure=json`` publish) as its scalar fields and lists, one per line."""
    try:
        document = json.loads(message)
    except ValueError:
        return message.splitlines() or [""]
    if not isinstance(document, dict):
        return [shorten(message, width)]
    if isinstance(document.get("text"), str):  # a leadscore alert: show it as the rep reads it
        return str(document["text"]).splitlines()
    lines = []
    for key, value in document.items():
        if isinstance(value, dict):
            scalars = {k: v for k, v in value.items() if not isinstance(v, dict | list)}
            if scalars:
                pairs = ", ".join(f"{k}={_scalar(v)}" for k, v in scalars.items())
                lines.append(shorten(f"{key}: {pairs}", width))
        elif isinstance(value, list):
            if value and all(isinstance(v, str | int | float) for v in value):
                lines.append(shorten(f"{key}: " + "; ".join(str(v) for v in value), width))
        else:
            lines.append(shorten(f"{key}: {_scalar(value)}", width))
    return lines


def _scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def lead_summary(lead: Any) -> dict[str, Any]:
    """Email, score, tier, grade and top reasons of a lead as the repository returns it."""
    card = _get(lead, "card")
    reasons = _get(card, "reasons") or []
    return {
        "email": _get(lead, "email") or _get(lead, "lead_id") or "?",
        "score": _get(card, "score"),
        "tier": _get(card, "tier") or "-",
        "grade": _get(card, "grade") or "-",
        "reasons": [str(r) for r in reasons][:3],
    }


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def format_score(value: Any) -> str:
    if value is None:
        return "-"
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"


@contextlib.contextmanager
def signals_to(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on SIGINT/SIGTERM while inside the block (then restore the old handlers)."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def shorten(text: str, width: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def lead_events_summary(events: list[dict[str, Any]]) -> str:
    """``Lead Became Sales Ready ×1, Lead Tier Changed ×3``: what the bus received, by detail type."""
    from collections import Counter

    counts = Counter(str(e.get("detail-type")) for e in events)
    return ", ".join(f"{kind} \u00d7{n}" for kind, n in sorted(counts.items())) or "none"
