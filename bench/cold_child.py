"""One cold start: a fresh interpreter imports the target module and handles one signed event.

Run by bench.cold as `python bench/cold_child.py TARGET EVENT_JSON RESULT_JSON`, with the repository
root on PYTHONPATH. It imports nothing of the benchmark (or of anything the target does not import
itself) before the target, so the process measures the target alone: what Lambda's INIT phase plus
the first invocation would do. TARGET is `handler` or `floor_app`.
"""

import json
import os
import sys
import time

# Modules whose presence after the cold path is reported: heavy ones, and those that must never
# be on the `handler.handler` path (Socket Mode, the local server, Mangum, X-Ray, local tools).
WATCHED = (
    "boto3", "botocore", "urllib3", "pydantic", "mangum", "starlette", "uvicorn", "aws_xray_sdk",
    "slack_sdk.socket_mode", "slack_bolt.adapter.socket_mode", "bolt_app.local",
    "aws_lambda_powertools.metrics", "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
)  # fmt: skip


class _Context:
    """The attributes of Lambda's context object that Powertools and Bolt read."""

    function_name = "slack-bot"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:slack-bot"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    target, event_path, result_path = sys.argv[1:4]
    with open(event_path) as f:
        event = json.load(f)
    t0 = time.perf_counter()
    # __import__, not importlib.import_module: only the former is logged by `-X importtime`.
    # BENCH_PRELOAD: modules imported first, inside the timed import (a proposed first import of handler.py).
    for name in filter(None, os.environ.get("BENCH_PRELOAD", "").split(",")):
        __import__(name)
    module = __import__(target)
    t1 = time.perf_counter()
    response = module.handler(event, _Context())
    t2 = time.perf_counter()
    with open(result_path, "w") as f:
        json.dump(
            {
                "import_s": t1 - t0,
                "first_event_s": t2 - t1,
                "status": response.get("statusCode"),
                "modules_loaded": len(sys.modules),
                "watched_loaded": [m for m in WATCHED if type(sys.modules.get(m)).__name__ == "module"],
            },
            f,
        )


if __name__ == "__main__":
    main()
