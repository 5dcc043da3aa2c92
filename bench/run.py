"""The benchmark: cold start, warm per-event cost and artifact size of the bot, each beside its floor.

`make bench` (or `python -m bench`, from the repository root, in a venv with requirements-local.txt)
prints a table and writes bench/results/latest.json. Every figure is the median of a fixed number of
repetitions; floors are measured in the same run, interleaved with the bot, so that the noise of a
shared machine hits both alike. It reports, it never asserts: the targets are read off the ratios.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import artifact, lambda_runtime
from bench.aws import CountingMoto, by_operation
from bench.common import BOT_TOKEN, SIGNING_SECRET, median, percentile, ratio, target_env
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_aws import FakeLambda
from bolt_app.local.fake_slack import FakeSlack

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
RESULTS = BENCH_DIR / "results"
BOT, FLOOR = "handler", "floor_app"
# The deployed configuration (template.yaml): tokens from Secrets Manager, records in DynamoDB (moto).
DEPLOYED_DM, DEPLOYED_TEST, RESTORED = "deployed_dm", "deployed_test", "restored_dm"
# The /stack-status ack on a cold container: the bot's answer plus its lazy self-invocation (Lambda
# Invoke, on a local fake): the one plain-path cold start that pays for boto3 and the Lambda client.
LAZY_ACK = "handler /stack-status"
# The notification path (docs/alerts.md): a cold container whose first event is an SNS alarm, deployed
# configuration (records and the alarm's thread in DynamoDB), posting the card to the alerts channel.
NOTIFY = "handler SNS alarm"
NOTIFY_CHANNEL = "C0BENCHALR"
# The /instances ack on a cold container, beside it: the same lazy path, through the command policy's check.
INSTANCES_ACK = "handler /instances"
LAZY_ACKS = (LAZY_ACK, INSTANCES_ACK)
COLD_TARGETS: dict[str, tuple[str, str]] = {
    BOT: ("handler", ""),
    FLOOR: ("floor_app", ""),
    DEPLOYED_DM: ("handler", ""),
    DEPLOYED_TEST: ("handler", ""),
    RESTORED: ("handler", ""),
    LAZY_ACK: ("handler", ""),
    NOTIFY: ("handler", ""),
    INSTANCES_ACK: ("handler", ""),
}
DEPLOYED = (DEPLOYED_DM, DEPLOYED_TEST, RESTORED, NOTIFY)
COLD_CHILD = BENCH_DIR / "cold_child.py"
KINDS = ("dm", "command", "click")


@dataclass(frozen=True)
class Config:
    cold_runs: int = 15
    importtime_runs: int = 3
    warm_events: int = 2000
    warm_runs: int = 3
    warm_warmup: int = 50
    latency: float = 0.05
    artifact: bool = True
    artifact_dir: Path | None = None
    # The alarm storm (bench/storm.py): seconds between two posts the fake Slack allows per channel.
    storm_interval: float | None = 1.0


QUICK = Config(cold_runs=5, importtime_runs=1, warm_events=500, warm_runs=1, storm_interval=0.25)


# -- cold start ---------------------------------------------------------------------------


def _child_env(api_url: str, preload: str = "", aws: CountingMoto | None = None) -> dict[str, str]:
    env = target_env(api_url)
    env["BENCH_PRELOAD"] = preload
    if aws is not None:
        # The tokens come from the secret alone, as on Lambda.
        env = {k: v for k, v in env.items() if k not in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")}
        env.update(aws.env())
    # The repository root for `handler`; bench/ (the child's own directory) is sys.path[0] for `floor_app`.
    env["PYTHONPATH"] = str(REPO)
    return env


def _signed_dm() -> dict[str, Any]:
    return sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("hello, cold start"))))


def _lazy_ack_env(fake_lambda: FakeLambda) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_LAMBDA": fake_lambda.base_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "STACK_NAME": "slack-bolt-bot",
    }


def _signed_test_command(fake: FakeSlack) -> dict[str, Any]:
    body = sr.form_body(sr.slash_command("/test", response_url=fake.new_response_url(kind="command")))
    return sr.signed_event(SIGNING_SECRET, body)


def _cold_event(label: str, fake: FakeSlack) -> Any:
    if label == DEPLOYED_TEST:
        return _signed_test_command(fake)
    if label in LAZY_ACKS:
        name = "/stack-status" if label == LAZY_ACK else "/instances"
        command = sr.slash_command(name, response_url=fake.new_response_url())
        return sr.signed_event(SIGNING_SECRET, sr.form_body(command))
    if label == NOTIFY:
        from bolt_app.local import aws_events

        return aws_events.alarm_event(f"bench-cold-{time.time_ns()}", "ALARM", datetime.now(UTC))
    if label == RESTORED:
        # The restored snapshot's first DM, then a second one: the warm figure of the same process.
        return [_signed_dm(), _signed_dm()]
    return _signed_dm()


def cold_once(
    label: str,
    fake: FakeSlack,
    workdir: Path,
    extra_args: tuple[str, ...] = (),
    aws: CountingMoto | None = None,
    fake_lambda: FakeLambda | None = None,
) -> dict[str, Any]:
    """One fresh interpreter: import the target, handle one signed event. Wall time and rusage seen from here."""
    target, preload = COLD_TARGETS[label]
    event_file, result_file, stderr_file = (
        workdir / f"{label.replace(' /', '-')}.{n}" for n in ("event.json", "result.json", "err")
    )
    fake.reset()
    event_file.write_text(json.dumps(_cold_event(label, fake)))
    result_file.unlink(missing_ok=True)
    deployed = aws if label in DEPLOYED else None
    if deployed is not None:
        deployed.reset()
    env = _child_env(fake.api_url, preload, deployed)
    if label == RESTORED:
        # What Lambda sets in a SnapStart environment (handler.py registers the hooks on it), and the
        # child's cue to run them between the import and the first event, as the runtime client does.
        env.update(AWS_LAMBDA_INITIALIZATION_TYPE="snap-start", BENCH_SNAPSTART="1")
    if label in LAZY_ACKS:
        assert fake_lambda is not None
        fake_lambda.reset()
        env.update(_lazy_ack_env(fake_lambda))
    if label == NOTIFY:
        env["ALERTS_CHANNEL"] = NOTIFY_CHANNEL
    with stderr_file.open("w") as stderr:
        started_at = time.time()  # the clock the child stamps its first answer with
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *extra_args, str(COLD_CHILD), target, str(event_file), str(result_file)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,  # Powertools' JSON logs and EMF metrics: written, not shown
            stderr=stderr,
        )
        # wait4, not wait: the child's own peak RSS, not the maximum over every child so far.
        _, status, usage = os.wait4(process.pid, 0)
        process_s = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not result_file.exists():
        tail = stderr_file.read_text()[-2000:]
        raise RuntimeError(f"cold start of {target} failed (exit {process.returncode}):\n{tail}")
    child = json.loads(result_file.read_text())
    calls = [c.method for c in fake.calls] + ["response_url"] * len(fake.response_posts)
    if fake_lambda is not None and label in LAZY_ACKS:
        calls += ["lambda:Invoke"] * len(fake_lambda.invocations)
    return {
        # Process start to the first answer: what a cold start costs the user (Lambda keeps the environment
        # afterwards). "process_s" also counts the interpreter's exit.
        "wall_s": child["responded_at"] - started_at,
        "process_s": process_s,
        "import_s": child["import_s"],
        "first_event_s": child["first_event_s"],
        "event_s": child["event_s"],
        "hooks_s": {k: child[k] for k in ("before_snapshot_s", "after_restore_s") if k in child},
        "status": child["status"],
        "statuses": child["statuses"],
        "aws_calls": list(deployed.calls) if deployed is not None else [],
        "modules_loaded": child["modules_loaded"],
        "watched_loaded": child["watched_loaded"],
        # KiB on Linux; the child's own VmHWM where /proc has it (ru_maxrss includes the parent's, see the child).
        "peak_rss_mb": (child.get("peak_rss_kb") or usage.ru_maxrss) / 1024,
        "slack_calls": calls,
        "stderr": stderr_file.read_text() if extra_args else "",
    }


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S.*)$")


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """`-X importtime` lines as (module, self µs, cumulative µs, depth)."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            rows.append((match[4].strip(), int(match[1]), int(match[2]), len(match[3]) // 2))
    return rows


def importtime_summary(runs: list[list[tuple[str, int, int, int]]], label: str, top: int = 15) -> dict[str, Any]:
    """Median over runs of: the target's whole import, and self time summed by package and by subpackage."""
    by_package: dict[str, list[float]] = defaultdict(list)
    by_subpackage: dict[str, list[float]] = defaultdict(list)
    totals, lazy = [], []
    for rows in runs:
        packages: dict[str, int] = defaultdict(int)
        subpackages: dict[str, int] = defaultdict(int)
        for module, self_us, _, _ in rows:
            packages[module.split(".")[0]] += self_us
            subpackages[".".join(module.split(".")[:2])] += self_us
        for name, us in packages.items():
            by_package[name].append(us)
        for name, us in subpackages.items():
            by_subpackage[name].append(us)
        target, preload = COLD_TARGETS[label]
        tops = {target, *filter(None, preload.split(","))}
        totals.append(sum(cum for module, _, cum, depth in rows if module in tops and depth == 0))
        # Imports after the target's own: done lazily while handling the first event.
        index = next((i for i, r in enumerate(rows) if r[0] == target and r[3] == 0), len(rows) - 1)
        lazy.append(sum(r[1] for r in rows[index + 1 :]))
    n = len(runs)

    def top_of(table: dict[str, list[float]]) -> list[dict[str, Any]]:
        # A module missing from a run counts 0 there: the median is over every run.
        med = {name: median(values + [0] * (n - len(values))) / 1000 for name, values in table.items()}
        return [{"name": k, "self_ms": round(v, 1)} for k, v in sorted(med.items(), key=lambda kv: -kv[1])[:top]]

    return {
        "runs": n,
        "import_ms": round(median(totals) / 1000, 1),
        "imported_during_first_event_ms": round(median(lazy) / 1000, 1),
        "by_package": top_of(by_package),
        "by_subpackage": top_of(by_subpackage),
    }


def _spread(values: list[float]) -> dict[str, float]:
    """Median with the interquartile range (nearest rank), in ms: the spread a reader can trust."""
    ms = [v * 1000 for v in values]
    return {"p25_ms": round(percentile(ms, 25), 1), "p75_ms": round(percentile(ms, 75), 1)}


def cold(config: Config, log: Any) -> dict[str, Any]:
    labels = [BOT, FLOOR, DEPLOYED_DM, DEPLOYED_TEST, RESTORED, LAZY_ACK, INSTANCES_ACK, NOTIFY]
    profiled = [BOT, FLOOR, DEPLOYED_DM]
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    importtime_rows: dict[str, list[Any]] = {label: [] for label in profiled}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp,
        FakeSlack(bot_token=BOT_TOKEN, latency=config.latency).serve() as fake,
        CountingMoto() as aws,
        FakeLambda().serve() as fake_lambda,
    ):
        aws.provision(BOT_TOKEN, SIGNING_SECRET)
        workdir = Path(tmp)
        # One discarded round each: the page cache and the fake Slack's first connection.
        for label in labels:
            cold_once(label, fake, workdir, aws=aws, fake_lambda=fake_lambda)
        for i in range(config.cold_runs):
            # Rotate who goes first, so a slow spell of the machine is shared out evenly.
            for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
                results[label].append(cold_once(label, fake, workdir, aws=aws, fake_lambda=fake_lambda))
            log(f"  cold start {i + 1}/{config.cold_runs}")
        for _ in range(config.importtime_runs):
            for label in profiled:
                run = cold_once(label, fake, workdir, ("-X", "importtime"), aws=aws, fake_lambda=fake_lambda)
                importtime_rows[label].append(parse_importtime(run["stderr"]))
    summary: dict[str, Any] = {"runs": config.cold_runs, "latency_s": config.latency}
    for target, runs in results.items():
        calls = [tuple(r["slack_calls"]) for r in runs]
        aws_calls = [tuple(sorted(r["aws_calls"])) for r in runs]
        summary[target] = {
            "wall_ms": round(median([r["wall_s"] for r in runs]) * 1000, 1),
            "wall_spread": _spread([r["wall_s"] for r in runs]),
            "process_ms": round(median([r["process_s"] for r in runs]) * 1000, 1),
            "import_ms": round(median([r["import_s"] for r in runs]) * 1000, 1),
            "first_event_ms": round(median([r["first_event_s"] for r in runs]) * 1000, 1),
            "first_event_spread": _spread([r["first_event_s"] for r in runs]),
            "peak_rss_mb": round(median([r["peak_rss_mb"] for r in runs]), 1),
            "modules_loaded": int(median([r["modules_loaded"] for r in runs])),
            "watched_loaded": runs[0]["watched_loaded"],
            "slack_calls": len(calls[0]),
            "slack_call_methods": list(calls[0]),
            # Every run must make the same calls; anything else is a finding in itself.
            "slack_calls_consistent": len(set(calls)) == 1,
            "aws_calls": by_operation(aws_calls[0]),
            "aws_calls_consistent": len(set(aws_calls)) == 1,
            "statuses": sorted({s for r in runs for s in r["statuses"]}),
            "wall_ms_all": [round(r["wall_s"] * 1000, 1) for r in runs],
        }
        if target in importtime_rows:
            summary[target]["importtime"] = importtime_summary(importtime_rows[target], target)
    restored = results[RESTORED]
    summary[RESTORED].update(
        {
            # The first event after the hooks, against the second (warm) event of the same process.
            "warm_event_ms": round(median([r["event_s"][1] for r in restored]) * 1000, 1),
            "warm_event_spread": _spread([r["event_s"][1] for r in restored]),
            "before_snapshot_ms": round(median([r["hooks_s"]["before_snapshot_s"] for r in restored]) * 1000, 1),
            "after_restore_ms": round(median([r["hooks_s"]["after_restore_s"] for r in restored]) * 1000, 1),
        }
    )
    bot, floor, deployed = summary[BOT], summary[FLOOR], summary[DEPLOYED_DM]
    summary["ratio"] = {
        "wall": ratio(bot["wall_ms"], floor["wall_ms"]),
        "peak_rss": ratio(bot["peak_rss_mb"], floor["peak_rss_mb"]),
        "import": ratio(bot["import_ms"], floor["import_ms"]),
        "stack_status_ack_wall": ratio(summary[LAZY_ACK]["wall_ms"], floor["wall_ms"]),
        "notification_wall": ratio(summary[NOTIFY]["wall_ms"], floor["wall_ms"]),
        "instances_ack_wall": ratio(summary[INSTANCES_ACK]["wall_ms"], floor["wall_ms"]),
        "deployed_wall": ratio(deployed["wall_ms"], floor["wall_ms"]),
        "deployed_import": ratio(deployed["import_ms"], floor["import_ms"]),
        "deployed_peak_rss": ratio(deployed["peak_rss_mb"], floor["peak_rss_mb"]),
        "restored_first_event_to_warm": ratio(summary[RESTORED]["first_event_ms"], summary[RESTORED]["warm_event_ms"]),
    }
    # The same per-run ratio, paired within a round: its spread says how much the median ratio can be trusted.
    paired = [d["wall_s"] / f["wall_s"] for d, f in zip(results[DEPLOYED_DM], results[FLOOR], strict=True)]
    summary["ratio"]["deployed_wall_paired_p25_p50_p75"] = [
        round(percentile(paired, 25), 3), round(median(paired), 3), round(percentile(paired, 75), 3)
    ]  # fmt: skip
    return summary


# -- warm ---------------------------------------------------------------------------------


def warm_once(config: Config, workdir: Path) -> dict[str, Any]:
    out = workdir / "warm.json"
    env = {k: v for k, v in os.environ.items() if k not in ("IDEMPOTENCY_TABLE", "SLACK_SECRET_ARN")}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.run(
        [
            sys.executable, "-m", "bench.warm_child", "--target", f"{BOT}:{','.join(KINDS)}", "--target", f"{FLOOR}:dm",
            "--events", str(config.warm_events), "--warmup", str(config.warm_warmup), "--out", str(out),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,  # Powertools' JSON logs and EMF metrics: written, not shown
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    if process.returncode != 0:
        raise RuntimeError(f"warm run failed:\n{process.stderr[-2000:]}")
    return json.loads(out.read_text())


def _distribution(samples: dict[str, list[int]]) -> dict[str, float]:
    total = [ns / 1e6 for ns in samples["total_ns"]]
    slack = [ns / 1e6 for ns in samples["slack_ns"]]
    own = [t - s for t, s in zip(total, slack, strict=True)]
    return {
        "p50_ms": percentile(total, 50),
        "p99_ms": percentile(total, 99),
        "own_p50_ms": percentile(own, 50),
        "own_p99_ms": percentile(own, 99),
        "slack_p50_ms": percentile(slack, 50),
        "slack_p99_ms": percentile(slack, 99),
    }


def warm(config: Config, log: Any) -> dict[str, Any]:
    per_run: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    checks: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        for i in range(config.warm_runs):
            result = warm_once(config, Path(tmp))
            for target, kinds in result["samples"].items():
                for kind, samples in kinds.items():
                    per_run[(target, kind)].append(_distribution(samples))
            checks = {
                t: {"statuses": result["statuses"][t], "slack_calls": result["slack_calls"][t]} for t in (BOT, FLOOR)
            }
            log(f"  warm {i + 1}/{config.warm_runs}")
    summary: dict[str, Any] = {"events_per_kind": config.warm_events, "runs": config.warm_runs, "latency_s": 0.0}
    for (target, kind), runs in per_run.items():
        summary.setdefault(target, {})[kind] = {key: round(median([r[key] for r in runs]), 3) for key in runs[0]}
    floor = summary[FLOOR]["dm"]
    summary["ratio"] = {
        kind: {
            "p50": ratio(summary[BOT][kind]["p50_ms"], floor["p50_ms"]),
            "p99": ratio(summary[BOT][kind]["p99_ms"], floor["p99_ms"]),
            "own_p99": ratio(summary[BOT][kind]["own_p99_ms"], floor["own_p99_ms"]),
        }
        for kind in KINDS
    }
    summary["checks"] = checks
    return summary


# -- the artifact under Lambda's runtime client ---------------------------------------------

ARTIFACT_CASES = ("tokens_dm", "deployed_dm", "restored_dm")


def artifact_cold(config: Config, built: Path, log: Any) -> dict[str, Any]:
    """Cold starts of the built function under awslambdaric on python3.13 (bench/lambda_runtime.py): env
    tokens, the deployed configuration, and a SnapStart environment of it (the DM after the restore)."""
    python = artifact.find_python313()
    if python is None:
        return {"status": "skipped: no python3.13"}
    runtime = lambda_runtime.runtime_dir(RESULTS / "cache")
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in ARTIFACT_CASES}
    with (
        tempfile.TemporaryDirectory(prefix="bench-ric-") as tmp,
        FakeSlack(bot_token=BOT_TOKEN, latency=config.latency).serve() as fake,
        CountingMoto() as aws,
    ):
        aws.provision(BOT_TOKEN, SIGNING_SECRET)
        envs = {
            "tokens_dm": {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            "deployed_dm": aws.env(),
            "restored_dm": {**aws.env(), "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"},
        }
        for i in range(config.cold_runs + 1):
            for case in ARTIFACT_CASES[i % 3 :] + ARTIFACT_CASES[: i % 3]:
                fake.reset()
                aws.reset()
                env = {**envs[case], "SLACK_API_URL": fake.api_url, "POWERTOOLS_SERVICE_NAME": "slack-bot"}
                run = lambda_runtime.cold_start(built, runtime, env, [_signed_dm()], log=Path(tmp) / f"{case}.log")
                if run["statuses"] != [200] or [c.method for c in fake.calls] != ["chat.postMessage"]:
                    raise RuntimeError(f"{case}: the function did not answer the DM: {run}")
                run["aws_calls"] = by_operation(aws.calls)
                if i:  # the first round warms the page cache
                    runs[case].append(run)
            if i:
                log(f"  artifact cold start {i}/{config.cold_runs}")
    summary: dict[str, Any] = {"status": "measured", "python": python, "runs": config.cold_runs}
    for case, case_runs in runs.items():
        summary[case] = {
            "wall_ms": round(median([r["wall_s"] for r in case_runs]) * 1000, 1),
            "wall_spread": _spread([r["wall_s"] for r in case_runs]),
            "init_ms": round(median([r["init_s"] for r in case_runs]) * 1000, 1),
            "first_invoke_ms": round(median([r["first_invoke_s"] for r in case_runs]) * 1000, 1),
            "first_invoke_spread": _spread([r["first_invoke_s"] for r in case_runs]),
            "peak_rss_mb": round(median([r["peak_rss_mb"] or 0 for r in case_runs]), 1),
            "aws_calls": case_runs[0]["aws_calls"],
        }
    return summary


# -- report -------------------------------------------------------------------------------


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _r(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render(result: dict[str, Any]) -> str:
    lines = [f"Benchmark, {result['date']}, Python {result['python']} on {result['machine']}", ""]
    c = result.get("cold")
    if c:
        b, f = c[BOT], c[FLOOR]
        lines += [
            f"Cold start: fresh process, import + one signed DM, fake Slack at {c['latency_s'] * 1000:.0f} ms a call "
            f"(median of {c['runs']})",
            f"{'':24}{'bot':>12}{'floor':>12}{'ratio':>8}",
            f"{'wall time, to the answer':24}{b['wall_ms']:>9.0f} ms{f['wall_ms']:>9.0f} ms{_r(c['ratio']['wall']):>8}",
            f"{'  import':24}{b['import_ms']:>9.0f} ms{f['import_ms']:>9.0f} ms{_r(c['ratio']['import']):>8}",
            f"{'  process end (+ exit)':24}{b['process_ms']:>9.0f} ms{f['process_ms']:>9.0f} ms",
            f"{'  first event':24}{b['first_event_ms']:>9.0f} ms{f['first_event_ms']:>9.0f} ms",
            f"{'peak memory (maxrss)':24}{b['peak_rss_mb']:>9.1f} MB{f['peak_rss_mb']:>9.1f} MB"
            f"{_r(c['ratio']['peak_rss']):>8}",
            f"{'Slack calls':24}{b['slack_calls']:>12}{f['slack_calls']:>12}",
            f"{'modules loaded':24}{b['modules_loaded']:>12}{f['modules_loaded']:>12}",
            f"  heavy or unwanted modules loaded — bot: {', '.join(b['watched_loaded']) or 'none'}; "
            f"floor: {', '.join(f['watched_loaded']) or 'none'}",
        ]
        for label, row, ratio_key in (
            (LAZY_ACK, "/stack-status ack", "stack_status_ack_wall"),
            (INSTANCES_ACK, "/instances ack", "instances_ack_wall"),
        ):
            if label not in c:
                continue
            s, lazy_ratio = c[label], _r(c["ratio"].get(ratio_key))
            lines.append(
                f"{row:24}{s['wall_ms']:>9.0f} ms{'':>12}{lazy_ratio:>8}"
                f"   (import {s['import_ms']:.0f} ms, first event {s['first_event_ms']:.0f} ms; calls: "
                f"{', '.join(s['slack_call_methods']) or 'none'})"
            )
        if NOTIFY in c:
            n, notify_ratio = c[NOTIFY], _r(c["ratio"].get("notification_wall"))
            lines.append(
                f"{'SNS alarm (deployed)':24}{n['wall_ms']:>9.0f} ms{'':>12}{notify_ratio:>8}"
                f"   (import {n['import_ms']:.0f} ms, first event {n['first_event_ms']:.0f} ms; calls: "
                f"{', '.join(n['slack_call_methods']) or 'none'})"
            )
        lines += ["", "Deployed configuration (secret in Secrets Manager, records in DynamoDB; moto on loopback):"]
        header = f"{'':24}{'wall':>9}{'(p25-p75)':>14}{'import':>9}{'1st event':>10}{'maxrss':>9}{'+exit':>8}"
        lines.append(header + "  calls")
        for label, name in ((DEPLOYED_DM, "deployed DM"), (DEPLOYED_TEST, "deployed /test"), (FLOOR, "floor DM")):
            d = c[label]
            aws_calls = ", ".join(f"{op.split('.')[1]}×{n}" for op, n in d["aws_calls"].items()) or "no AWS"
            lines.append(
                f"{name:24}{d['wall_ms']:>6.0f} ms{d['wall_spread']['p25_ms']:>7.0f}-{d['wall_spread']['p75_ms']:<6.0f}"
                f"{d['import_ms']:>6.0f} ms{d['first_event_ms']:>7.0f} ms{d['peak_rss_mb']:>6.1f} MB"
                f"{d['process_ms'] - d['wall_ms']:>5.0f} ms  "
                f"Slack: {', '.join(d['slack_call_methods']) or 'none'}; AWS: {aws_calls}"
            )
        paired = c["ratio"]["deployed_wall_paired_p25_p50_p75"]
        lines.append(f"  deployed DM / floor, wall: {_r(c['ratio']['deployed_wall'])} (paired runs p25/p50/p75: "
                     f"{' / '.join(f'{x:.2f}' for x in paired)})")  # fmt: skip
        r = c[RESTORED]
        lines.append(
            f"{'restored (SnapStart)':24}first DM {r['first_event_ms']:.1f} ms "
            f"(p25-p75 {r['first_event_spread']['p25_ms']:.1f}-{r['first_event_spread']['p75_ms']:.1f}), "
            f"warm DM {r['warm_event_ms']:.1f} ms, ratio {_r(c['ratio']['restored_first_event_to_warm'])}; "
            f"hooks: before snapshot {r['before_snapshot_ms']:.0f} ms, after restore {r['after_restore_ms']:.0f} ms"
        )
        lines += [
            "",
            f"Import time by package, self ms (median of {b['importtime']['runs']} -X importtime runs):",
        ]
        fp = {p["name"]: p["self_ms"] for p in f["importtime"]["by_package"]}
        for p in b["importtime"]["by_package"][:10]:
            lines.append(f"  {p['name']:34}{p['self_ms']:>8.1f}   (floor {fp.get(p['name'], 0.0):.1f})")
        lines += ["  heaviest subpackages (bot): " + ", ".join(
            f"{p['name']} {p['self_ms']:.0f}" for p in b["importtime"]["by_subpackage"][:8]
        )]  # fmt: skip
        dp = c[DEPLOYED_DM]["importtime"]
        lines += [f"  deployed DM: import {dp['import_ms']:.0f} ms, imported during the first event "
                  f"{dp['imported_during_first_event_ms']:.0f} ms; heaviest packages: " + ", ".join(
            f"{p['name']} {p['self_ms']:.0f}" for p in dp["by_package"][:8]
        ), ""]  # fmt: skip
    w = result.get("warm")
    if w:
        lines += [
            f"Warm: per event in one process, {w['events_per_kind']} events per kind, median of {w['runs']} runs; "
            "'own' excludes the fake Slack's share",
            f"{'':24}{'p50':>9}{'p99':>9}{'own p50':>9}{'own p99':>9}{'Slack p50':>10}{'p99/floor':>10}",
        ]
        rows = [(f"bot {k}", w[BOT][k], w["ratio"][k]["p99"]) for k in KINDS] + [("floor dm", w[FLOOR]["dm"], 1.0)]
        for name, d, rr in rows:
            lines.append(
                f"{name:24}{d['p50_ms']:>6.2f} ms{d['p99_ms']:>6.2f} ms{d['own_p50_ms']:>6.2f} ms"
                f"{d['own_p99_ms']:>6.2f} ms{d['slack_p50_ms']:>7.2f} ms{_r(rr):>10}"
            )
        lines.append("")
    a = result.get("artifact")
    if a:
        fl, own, built = a["floor"], a["own_code"], a["built"]
        lines += ["Artifact (unzipped / zipped / modules)"]
        lines.append(f"  floor: requirements.txt alone  {_mb(fl['unzipped_bytes'])} / {_mb(fl['zipped_bytes'])} / "
                     f"{fl['modules']}")  # fmt: skip
        lines.append(f"  own code (handler, bolt_app)   {_mb(own['unzipped_bytes'])} / {_mb(own['zipped_bytes'])} / "
                     f"{own['modules']}")  # fmt: skip
        if built:
            lines.append(
                f"  built function                 {_mb(built['unzipped_bytes'])} / {_mb(built['zipped_bytes'])} / "
                f"{built['modules']}   ratio {_r(a['ratio_unzipped'])} / {_r(a['ratio_zipped'])}  ({a['built_status']})"
            )
        else:
            lines.append(f"  built function                 {a['built_status']}")
    ac = result.get("artifact_cold")
    if ac and ac.get("status") == "measured":
        lines += [
            "",
            f"Built function under awslambdaric ({ac['python']}), fake Runtime API; median of {ac['runs']}, "
            "process start to response posted",
            f"{'':24}{'wall':>9}{'(p25-p75)':>14}{'init':>9}{'1st invoke':>11}{'maxrss':>9}",
        ]
        names = {"tokens_dm": "DM, env tokens", "deployed_dm": "DM, deployed", "restored_dm": "DM, SnapStart restore"}
        for case, name in names.items():
            d = ac[case]
            lines.append(
                f"{name:24}{d['wall_ms']:>6.0f} ms{d['wall_spread']['p25_ms']:>7.0f}-{d['wall_spread']['p75_ms']:<6.0f}"
                f"{d['init_ms']:>6.0f} ms{d['first_invoke_ms']:>8.1f} ms{d['peak_rss_mb']:>6.1f} MB"
            )
        lines.append("  (SnapStart: init includes the before-snapshot hooks; its 1st invoke is what a restore costs)")
    elif ac:
        lines += ["", f"Built function under awslambdaric: {ac['status']}"]
    st = result.get("storm")
    if st:
        lines += [
            "",
            f"Alarm storm (bench/storm.py): {st['changes']} changes of 10 alarms, {st['containers']} containers, "
            f"DynamoDB (moto); the fake Slack allows 1 post per {st['interval_s']:g} s per channel",
            f"  {st['storm_s']:.1f} s for {st['posts']} posts, minimum {st['minimum_s']:.1f} s: "
            f"{st['ratio_to_minimum']:.2f}x; {st['rate_limited_429s']} 429s waited out, {st['chat_updates']} card "
            f"updates, {st['cards_showing_latest']}/{st['cards']} cards showing their latest state, "
            f"{st['retries']} retries",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and events (about a minute)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per target (default 15, quick 5)")
    parser.add_argument("--importtime-runs", type=int, help="-X importtime runs per target (default 3, quick 1)")
    parser.add_argument("--events", type=int, help="warm events per kind per run (default 2000, quick 500)")
    parser.add_argument("--warm-runs", type=int, help="warm runs per target (default 3, quick 1)")
    parser.add_argument("--warmup", type=int, help="discarded warm events per kind before timing (default 50)")
    parser.add_argument("--latency", type=float, help="fake Slack round trip on the cold path, s (default 0.05)")
    parser.add_argument("--no-storm", action="store_true", help="skip the alarm storm (about 35 s; quick 10 s)")
    parser.add_argument("--storm-interval", type=float, help="the storm's s per post per channel (1, quick 0.25)")
    parser.add_argument("--no-artifact", action="store_true", help="skip the artifact sizes (they need PyPI once)")
    parser.add_argument("--artifact-dir", type=Path, help="the built function to measure (default .aws-sam's)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the results")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    overrides = {
        "cold_runs": args.cold_runs,
        "importtime_runs": args.importtime_runs,
        "warm_events": args.events,
        "warm_runs": args.warm_runs,
        "warm_warmup": args.warmup,
        "latency": args.latency,
        "artifact_dir": args.artifact_dir,
        "storm_interval": args.storm_interval,
    }
    config = Config(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    config = Config(**{**config.__dict__, "artifact": not args.no_artifact})
    if args.no_storm:
        config = Config(**{**config.__dict__, "storm_interval": None})

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # Bytecode for our code as the artifact has it: no run pays for compiling handler or bolt_app.
    compileall.compile_file(REPO / "handler.py", quiet=1)
    compileall.compile_dir(REPO / "bolt_app", quiet=1)
    # bench/*.py only: bench/results/cache holds the artifact floor, whose bytecode must stay 3.13's alone.
    compileall.compile_dir(BENCH_DIR, maxlevels=0, quiet=1)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in config.__dict__.items()},
    }
    log("cold start…")
    result["cold"] = cold(config, log)
    log("warm…")
    result["warm"] = warm(config, log)
    if config.storm_interval:
        from bench.storm import storm_once

        log("alarm storm…")
        result["storm"] = storm_once(config.storm_interval)
    if config.artifact:
        log("artifact…")
        result["artifact"] = artifact.measure(REPO, RESULTS / "cache", config.artifact_dir)
        built = result["artifact"]["built"]
        if built:
            log("artifact cold start under awslambdaric…")
            result["artifact_cold"] = artifact_cold(config, Path(built["path"]), log)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\n{args.json} written in {result['duration_s']:.0f} s")
    return 0
