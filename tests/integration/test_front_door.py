"""The optional Function URL front door (IngestFunctionUrl = "true"): the same handler and checks as
the HTTP API routes, a public URL with no per-request charge, and nothing added when it is off."""

from __future__ import annotations

import json

from leadscore.dal.leads import LeadRepository

from tests.support import TEMPLATE, Stack, example_rules_json, load_event, translate


def test_the_function_url_is_added_only_when_asked() -> None:
    cfn = translate(TEMPLATE).cfn
    assert cfn["Conditions"]["HasIngestFunctionUrl"] == {"Fn::Equals": [{"Ref": "IngestFunctionUrl"}, "true"]}
    for name in ("IngestUrl", "IngestUrlPermission"):
        assert cfn["Resources"][name]["Condition"] == "HasIngestFunctionUrl", name
    assert cfn["Outputs"]["IngestFunctionUrlEndpoint"]["Condition"] == "HasIngestFunctionUrl"
    assert translate(TEMPLATE).parameters["IngestFunctionUrl"] == "false"  # off unless asked
    on = cfn
    url = on["Resources"]["IngestUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    assert url["Properties"]["AuthType"] == "NONE"  # public, like /forms and /track; webhooks verify
    assert url["Properties"]["Cors"]["AllowOrigins"] == {"Ref": "AllowedOrigins"}  # the same origins
    permission = on["Resources"]["IngestUrlPermission"]["Properties"]
    assert permission["Action"] == "lambda:InvokeFunctionUrl" and permission["FunctionUrlAuthType"] == "NONE"
    assert on["Outputs"]["IngestFunctionUrlEndpoint"]["Value"] == {"Fn::GetAtt": ["IngestUrl", "FunctionUrl"]}


def test_a_function_url_request_is_handled_like_the_http_api_route(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    via_url = load_event("furl-01-form-json")
    assert via_url["requestContext"]["routeKey"] == "$default"
    response = stack.invoke("IngestFunction", via_url)
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"])["accepted"] == 1
    stack.drain()
    lead = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(
        "dana.reyes@northwindlabs.io"
    )
    assert lead is not None and lead.events_total == 1 and lead.card is not None
    # The same checks apply: a malformed body is a 400 naming the problem, not a 5xx.
    bad = dict(via_url, body="{not json")
    answer = stack.invoke("IngestFunction", bad)
    assert answer["statusCode"] == 400 and "body" in answer["body"]
    unknown = dict(via_url, rawPath="/webhooks/nobody", requestContext={**via_url["requestContext"]})
    unknown["requestContext"]["http"] = {**via_url["requestContext"]["http"], "path": "/webhooks/nobody"}
    assert stack.invoke("IngestFunction", unknown)["statusCode"] == 404
