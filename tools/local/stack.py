"""The process side of the local stack: a moto server with the template's stack in it (rules
published, the SendGrid test key and the documented local variables as parameters), the HTTP server
in a thread, the event sources pumped in the background, and everything stopped again.

Everything AWS-shaped is done by the engine (tools.localstack); this module wires it to a socket and a
terminal: the requests are tools.local.http_api's, the printing tools.local.console's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from tools.local.console import Console
from tools.local.http_api import Handler
from tools.local.settings import (
    CARDS_PREFIX,
    EXPORT_PATH,
    FORM_REDIRECT_URLS_ENV,
    HOT_PATH,
    LEADS_PREFIX,
    LOCAL_AUTHORIZATION,
    LOG_FILE,
    RESCORE_PATH,
    RULES_FILE,
    SENDGRID_KEYS_ENV,
    SENDGRID_TEST_PUBLIC_KEY,
)
from tools.localstack import PumpResult, Stack, local_env


class SetupError(Exception):
    """The local stack cannot start (e.g. the rules file is missing)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def signals_to(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on SIGINT/SIGTERM while inside the block (then restore the old handlers)."""

    def handler(signum: int, frame: Any) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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

    @property
    def handler_log(self) -> TextIO | None:
        """The handler log while the stack runs (handlers' stdout goes there), else None."""
        return self._log

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
        handler = type("Handler", (Handler,), {"local": self})
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
            self.console.batch(result)
        notifications = self.stack.inbox()
        for note in notifications:
            self.console.notification(note)
        for event in self.stack.lead_events():
            self.console.lead_event(event)
        return results, notifications

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
