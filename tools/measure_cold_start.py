"""Measure a cold start of the built artifact: import time, first-event time and peak RSS.

Each run is a fresh process of the Lambda runtime's Python (3.13) with only the `sam build`
artifact on its path (plus, optionally, a directory holding boto3, as the runtime has it). It
imports `handler`, handles one signed DM, and reports; the bot talks to the fake Slack Web API
served by this process. `--no-bytecode` runs a copy without __pycache__ and with bytecode
writing off: what every cold start would cost on read-only /var/task without precompiled .pyc.

    .venv/bin/python tools/measure_cold_start.py [--artifact .aws-sam/build/SlackBotFunction]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.artifact import find_python313
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack

BOT_TOKEN = "xoxb-measure-0000000000-token"
SIGNING_SECRET = "measure-signing-secret"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
if sys.argv[2]:
    import boto3  # the Lambda runtime has it; the Secrets Manager/DynamoDB path imports it
import handler
t1 = time.perf_counter()

class Context:
    function_name = "slack-bot"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:slack-bot"
    def get_remaining_time_in_millis(self):
        return 10_000

with open(sys.argv[1]) as f:
    event = json.load(f)
response = handler.handler(event, Context())
t2 = time.perf_counter()
print(json.dumps({
    "status": response["statusCode"],
    "import_ms": (t1 - t0) * 1000,
    "first_event_ms": (t2 - t1) * 1000,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "modules": len(sys.modules),
}))
"""


def run_once(
    python: str, artifact: Path, event_file: Path, api_url: str, extra_path: str, bytecode: bool
) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(p for p in (str(artifact), extra_path) if p),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "POWERTOOLS_SERVICE_NAME": "slack-bot",
        "POWERTOOLS_METRICS_NAMESPACE": "SlackBot",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    # -I would drop PYTHONPATH; -s keeps the user site out, as on Lambda.
    out = subprocess.run(
        [python, "-s", "-c", CHILD, str(event_file), "1" if extra_path else ""],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"cold start failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", type=Path, default=Path(".aws-sam/build/SlackBotFunction"))
    parser.add_argument("--python", default=find_python313() or "python3.13", help="a python3.13 (Lambda's runtime)")
    parser.add_argument("--boto3-path", default="", help="a directory with boto3 for that Python (Lambda has it)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true", help="strip __pycache__ first (read-only /var/task)")
    args = parser.parse_args(argv)

    artifact = args.artifact.resolve()
    if not (artifact / "handler.py").is_file():
        raise SystemExit(f"{artifact} holds no handler.py: run `sam build` first")
    with tempfile.TemporaryDirectory() as tmp, FakeSlack(bot_token=BOT_TOKEN).serve() as slack:
        if args.no_bytecode:
            copy = Path(tmp) / "artifact"
            shutil.copytree(artifact, copy, ignore=shutil.ignore_patterns("__pycache__"))
            artifact = copy
        results = []
        for _ in range(args.runs):
            event_file = Path(tmp) / "event.json"
            event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("hello"))))
            event_file.write_text(json.dumps(event))
            slack.reset()
            result = run_once(args.python, artifact, event_file, slack.api_url, args.boto3_path, not args.no_bytecode)
            if result["status"] != 200 or len(slack.calls_to("chat.postMessage")) != 1:
                raise SystemExit(f"the cold process did not answer the DM: {result}")
            results.append(result)
    summary = {key: round(statistics.median(r[key] for r in results), 1) for key in results[0] if key != "status"}
    summary["peak_rss_mb_max"] = round(max(r["peak_rss_mb"] for r in results), 1)
    print(json.dumps({"runs": args.runs, "bytecode": not args.no_bytecode, "boto3": bool(args.boto3_path), **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
