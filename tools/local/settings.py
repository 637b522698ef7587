"""The local stack's fixed places: the rules it publishes, the sample key pair, the handler log, and the
local-only routes (``/_local/...``) the HTTP server adds to the template's API.

Shared by the server (tools.local.stack, tools.local.http_api), the sample replay (tools.local.replay)
and the demo; nothing here runs.
"""

from __future__ import annotations

from pathlib import Path

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

# `make serve` takes template parameters from the documented local variables (tools.localstack.local_env),
# so a website can be tried locally, e.g.
# LEADSCORE_FORM_REDIRECT_URLS=https://www.example.com/thanks ALLOWED_ORIGINS=http://localhost:8000
FORM_REDIRECT_URLS_ENV = "LEADSCORE_FORM_REDIRECT_URLS"
