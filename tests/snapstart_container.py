"""A Lambda container in a SnapStart environment: imports `handler`, then runs the runtime hooks when told.

Like tests/lambda_container.py (one JSON event per line on stdin, `RESPONSE <json>` per event), plus
commands that play Lambda's runtime client: `SNAPSHOT` runs the before-snapshot hooks from
`snapshot_restore_py`'s registry (last registered first, as awslambdaric does), `RESTORE <seconds>`
runs the after-restore hooks as if the snapshot had been taken that long ago, `STATE` reports what the
hooks left behind. Each command answers one `STATE <json>` line.
"""

import hashlib
import json
import random
import sys
import time

from snapshot_restore_py import get_after_restore, get_before_snapshot

import handler
from bolt_app.foundation import aws_clients
from bolt_app.local.slack_requests import LambdaContext


def state() -> dict:
    hooks = handler.snapstart_hooks
    gateway = handler.bot.gateway
    return {
        "registered": hooks is not None,
        "primed": hooks.primed if hooks else [],
        "replay_cache_entries": len(gateway.guard._replays._seen) if gateway else None,
        "aws_clients": sorted(service for service, _ in aws_clients._clients),
        # Which `random` state this process is in (reading it does not advance it).
        "random_state": hashlib.sha256(repr(random.getstate()).encode()).hexdigest()[:16],
    }


print("READY", flush=True)
for line in sys.stdin:
    command = line.strip()
    if not command:
        continue
    if command == "SNAPSHOT":
        before = get_before_snapshot()
        while before:
            func, args, kwargs = before.pop()
            func(*args, **kwargs)
    elif command.startswith("RESTORE"):
        handler.snapstart_hooks.snapshot_at = time.time() - float(command.split()[1])
        for func, args, kwargs in get_after_restore():
            func(*args, **kwargs)
    elif command != "STATE":
        response = handler.handler(json.loads(command), LambdaContext())
        print("RESPONSE " + json.dumps(response), flush=True)
        continue
    print("STATE " + json.dumps(state()), flush=True)
