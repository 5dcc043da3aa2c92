"""One cold start: a fresh interpreter imports the target module and handles one signed event.

Run by bench.cold as `python bench/cold_child.py TARGET EVENT_JSON RESULT_JSON`, with the repository
root on PYTHONPATH. It imports nothing of the benchmark (or of anything the target does not import
itself) before the target, so the process measures the target alone: what Lambda's INIT phase plus
the first invocation would do. TARGET is `handler` or `floor_app`.

EVENT_JSON holds one event, or a list of events handled one after the other (each timed). With
BENCH_SNAPSTART=1 the process runs the SnapStart runtime hooks after the import, as Lambda's runtime
client does (`snapshot_restore_py`'s registry: before-snapshot hooks in reverse order of registration,
then after-restore hooks in order), so that its first event is what a restored snapshot's costs.
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


def peak_rss_kb() -> int | None:
    """VmHWM: this process's own peak RSS. ru_maxrss would not do: Linux carries the parent's high-water
    mark across fork and exec, so every child of a big benchmark process would report the parent's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


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
    hooks = {}
    if os.environ.get("BENCH_SNAPSTART") == "1":
        from snapshot_restore_py import get_after_restore, get_before_snapshot

        before = get_before_snapshot()
        while before:  # awslambdaric's order: the last registered runs first
            func, args, kwargs = before.pop()
            func(*args, **kwargs)
        t_snap = time.perf_counter()
        for func, args, kwargs in get_after_restore():
            func(*args, **kwargs)
        hooks = {"before_snapshot_s": t_snap - t1, "after_restore_s": time.perf_counter() - t_snap}
    events = event if isinstance(event, list) else [event]
    event_s, statuses = [], []
    responded_at = None
    for one in events:
        start = time.perf_counter()
        response = module.handler(one, _Context())
        event_s.append(time.perf_counter() - start)
        statuses.append(response.get("statusCode"))
        # Wall clock, compared with the parent's start: a Lambda cold start ends when the first answer is
        # back; the interpreter's exit after it (the deployed configuration's boto3 takes ~60-90 ms to tear
        # down) is no part of it: Lambda keeps the environment.
        responded_at = responded_at or time.time()
    with open(result_path, "w") as f:
        json.dump(
            {
                "import_s": t1 - t0,
                "responded_at": responded_at,
                "first_event_s": event_s[0],
                "event_s": event_s,
                "statuses": statuses,
                **hooks,
                "status": statuses[0],
                "peak_rss_kb": peak_rss_kb(),
                "modules_loaded": len(sys.modules),
                "watched_loaded": [m for m in WATCHED if type(sys.modules.get(m)).__name__ == "module"],
            },
            f,
        )


if __name__ == "__main__":
    main()
