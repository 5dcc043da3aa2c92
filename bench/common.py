"""What the benchmark's parent and child processes share: credentials, the targets' environment, statistics."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence

BOT_TOKEN = "xoxb-bench-0000000000-not-a-real-token"
# slack_requests' default user, whom every benchmark request comes from.
TEST_ADMIN = "U0HUMAN001"
SIGNING_SECRET = "bench-signing-secret-0123456789ab"

# Settings that would change what is measured if they leaked in from the caller's shell:
# a DynamoDB table or a Secrets Manager ARN would send the bot to AWS, an app token to Socket Mode.
_UNSET = ("IDEMPOTENCY_TABLE", "SLACK_SECRET_ARN", "SLACK_APP_TOKEN", "SLACK_BOT_ID", "SLACK_BOT_USER_ID")


def target_env(api_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment `handler` and the floor run with: the Lambda configuration of template.yaml,
    secrets from the environment (no Secrets Manager), the in-memory idempotency store."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _UNSET}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        POWERTOOLS_SERVICE_NAME="slack-bot",
        # The benchmark's user is an admin (the ChatOpsAdmins parameter): /stack-status runs, not a refusal.
        CHATOPS_ADMINS=TEST_ADMIN,
        POWERTOOLS_METRICS_NAMESPACE="SlackBot",
        # Lambda's defaults; outside Lambda, Python would also write bytecode next to sources.
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ratio(value: float, floor: float) -> float | None:
    if not floor or math.isnan(floor) or math.isnan(value):
        return None
    return round(value / floor, 3)
