"""A second Lambda container: a fresh process that imports `handler` and handles the events it is sent.

Reads one JSON event per line on stdin; writes `READY` once imported, then `RESPONSE <json>`
per event on stdout (Powertools' JSON log lines share stdout, so the prefix marks ours).
TEST_LAMBDA_REMAINING_MS sets what the context reports as the invocation's remaining time
(the function's timeout, for a time-compressed run).
"""

import json
import logging
import os
import sys

if os.environ.get("TEST_ROOT_LOG_LEVEL"):
    # As if the Lambda runtime's root logger let everything through: what would any library log?
    logging.basicConfig(level=os.environ["TEST_ROOT_LOG_LEVEL"], stream=sys.stdout)

import handler
from bolt_app.local.slack_requests import LambdaContext


class Context(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return int(os.environ.get("TEST_LAMBDA_REMAINING_MS") or super().get_remaining_time_in_millis())


print("READY", flush=True)
for line in sys.stdin:
    if line.strip():
        try:
            response = handler.handler(json.loads(line), Context())
        except Exception as error:
            # What the Lambda runtime reports for a function error (and then retries, for an async event).
            response = {"errorType": type(error).__name__, "errorMessage": str(error)}
        print("RESPONSE " + json.dumps(response), flush=True)
