"""Fault injection for the integration tests: AWS errors answered inside botocore's retry loop."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from leadscore.dal import clients


class Faults:
    """Inject AWS errors inside botocore's retry loop (before-send), so retry modes really apply."""

    def __init__(self) -> None:
        self.plans: dict[str, list[tuple[int, str]]] = {}
        self.calls: dict[str, int] = {}
        self.delays: list[float] = []

    def fail(self, operation: str, times: int, status: int, code: str) -> None:
        self.plans.setdefault(operation, []).extend([(status, code)] * times)

    def hook(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        name = kwargs["event_name"].split(".", 2)[-1]
        self.calls[name] = self.calls.get(name, 0) + 1
        plan = self.plans.get(name)
        if not plan:
            return None
        status, code = plan.pop(0)
        request.headers["x-leadscore-fault"] = code  # moto's stubber skips it (see the fixture)
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        if name in ("GetObject", "Publish"):
            body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, _Raw(body))  # type: ignore[arg-type]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return self.body


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Inject errors as AWS would answer them. botocore calls every before-send handler, moto's too,
    so moto is told to leave a faulted request alone: it must have no side effect."""
    from moto.core.botocore_stubber import BotocoreStubber

    stub = BotocoreStubber.__call__

    def skip_faulted(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if "x-leadscore-fault" in request.headers:
            return None
        return stub(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", skip_faulted)
    injector = Faults()
    # botocore sleeps between retries (exponential backoff with jitter): record the delays instead.
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint.time, "sleep", injector.delays.append)  # type: ignore[attr-defined]
    original: Callable[[str], Any] = clients._client.__wrapped__

    def hooked(service: str) -> Any:
        client = original(service)
        client.meta.events.register_first("before-send", injector.hook)
        return client

    clients.reset_clients()
    monkeypatch.setattr(clients, "_client", _cached(hooked))
    return injector


def _cached(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    from functools import cache

    return cache(fn)
