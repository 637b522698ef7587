"""Ingest: turn what forms, tracking snippets and email platforms send into ``CanonicalEvent``\\ s.

Layout (one concern per module, no AWS calls anywhere in here):

- :mod:`~leadscore.ingest.request`: the framework-free HTTP request (body size check, base64 decoding);
- :mod:`~leadscore.ingest.body`: content types and body parsers (JSON, urlencoded, multipart);
- :mod:`~leadscore.ingest.forms`: web forms and the configurable field-name alias table;
- :mod:`~leadscore.ingest.tracking`: the Segment spec (track, page, identify, batch);
- :mod:`~leadscore.ingest.providers`: webhook providers behind one interface, and their registry (SendGrid,
  Typeform, HubSpot, Tally, Webflow, Mailgun, Postmark, Mailchimp, Mandrill, Brevo, SES via SNS);
- :mod:`~leadscore.ingest.secrets`: provider secrets from SSM/Secrets Manager (plain variables locally);
- :mod:`~leadscore.ingest.signatures`: signature helpers any provider can use (``cryptography`` loads lazily);
- :mod:`~leadscore.ingest.service`: the three entry points the HTTP handler calls;
- :mod:`~leadscore.ingest.result`: accepted events (deduplicated by id), rejected and ignored items;
- :mod:`~leadscore.ingest.normalize`: property capping, timestamps, URLs and UTM fields;
- :mod:`~leadscore.ingest.bots`: automated user agents (crawlers, headless browsers, link scanners);
- :mod:`~leadscore.ingest.errors`: one exception class per HTTP outcome.

Configuration read from the environment (``SENDGRID_WEBHOOK_PUBLIC_KEYS``,
``LEADSCORE_INSECURE_ALLOW_UNSIGNED``, honeypot and alias overrides) lives in :mod:`~leadscore.ingest.config`.
"""
