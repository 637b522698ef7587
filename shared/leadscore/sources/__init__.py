"""Sources that are not HTTP requests: the server-side event queue (Segment spec over SQS), SES events
through SNS invoking a Lambda directly, and custom events on EventBridge.

Each turns its platform's records into :class:`~leadscore.models.event.CanonicalEvent` with the parsers
the HTTP routes already use (one parser, two transports) and puts them on ``EventsQueue``: the same event
model, the same dedupe by ``event_id``, the same scorer. Nothing here touches AWS except through
:mod:`leadscore.dal.queue`.
"""
