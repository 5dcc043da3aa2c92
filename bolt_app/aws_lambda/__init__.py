"""Running on AWS Lambda: Bolt's `SlackRequestHandler` with boto3 deferred (`adapter`), the ALB/ASGI app that the
local server serves too (`asgi`), lazy listeners by self-invocation (`lazy_listeners`) and SnapStart hooks.

Import `bolt_app.aws_lambda.adapter` before anything that imports `slack_bolt.adapter.aws_lambda`.
"""
