"""IngestFunction: POST /forms, POST /track, POST /webhooks/<provider> → CanonicalEvents → SQS.

Each route: build the request (413 before parsing), ask :mod:`leadscore.ingest.service` for events,
and let :mod:`leadscore.services.intake` queue them and answer (202 with counts; 303 to an allowed
thank-you page for a plain HTML form with ``_redirect``). Every error type maps to one JSON error body
(``intake.ERROR_HANDLERS``); nothing a caller can send produces a 5xx. ``GET``/``HEAD
/webhooks/<provider>`` answer the URL checks some platforms make when a webhook is created (Mailchimp,
Mandrill); 405 with ``Allow`` for every other method and provider.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.http import register_error_handlers
from leadscore.ingest import service
from leadscore.ingest.config import IngestConfig
from leadscore.observability import logger, metrics
from leadscore.services import intake

app = APIGatewayHttpResolver()
register_error_handlers(app, intake.ERROR_HANDLERS)

ROUTES = ("/forms", "/track", "/webhooks/<provider>")
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@app.post("/forms")
def post_forms() -> Response[str]:
    return intake.accepted(
        service.ingest_form(intake.request(app.current_event), IngestConfig.from_env()), "/forms"
    )


@app.post("/track")
def post_track() -> Response[str]:
    return intake.accepted(
        service.ingest_track(intake.request(app.current_event), IngestConfig.from_env()), "/track"
    )


@app.post("/webhooks/<provider>")
def post_webhook(provider: str) -> Response[str]:
    result = service.ingest_webhook(provider, intake.request(app.current_event), IngestConfig.from_env())
    return intake.accepted(result, "/webhooks/" + result.source)


@app.route("/webhooks/<provider>", method=["GET", "HEAD"])
def check_webhook_url(provider: str) -> Response[str]:
    if service.check_webhook_url(provider, intake.request(app.current_event), IngestConfig.from_env()):
        return intake.webhook_url_checked(provider)
    return intake.method_not_allowed(provider)


for _rule in ROUTES:
    _others = [m for m in OTHER_METHODS if not (_rule == "/webhooks/<provider>" and m in ("GET", "HEAD"))]
    app.route(_rule, method=_others)(intake.method_not_allowed)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
