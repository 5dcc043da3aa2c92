"""One Lambda container for the alarm storm (bench/storm.py): imports `handler`, then handles one JSON event
per stdin line, answering `RESPONSE <json>` per event (a raise as Lambda reports it: errorType)."""

import json
import sys

import handler


class _Context:
    function_name = "slack-bot"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-4000-8000-000000000002"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:slack-bot:live"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000  # template.yaml's Timeout


print("READY", flush=True)
for line in sys.stdin:
    if line.strip():
        try:
            response = handler.handler(json.loads(line), _Context())
        except Exception as error:
            response = {"errorType": type(error).__name__, "errorMessage": str(error)}
        print("RESPONSE " + json.dumps(response), flush=True)
