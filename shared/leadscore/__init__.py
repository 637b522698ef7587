"""leadscore: the Lambda layer. Domain (rules, scoring) and adapters (DynamoDB, S3, SNS, providers).

Imported as ``leadscore`` everywhere: /opt/python/leadscore in Lambda, shared/leadscore under pytest.
"""
