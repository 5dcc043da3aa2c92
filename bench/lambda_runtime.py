"""The built artifact under Lambda's own Runtime Interface Client, against a fake Runtime API on loopback.

`awslambdaric` is what Lambda's Python base images run as their bootstrap: it imports the handler
(init), then loops on the Runtime API — `GET /2018-06-01/runtime/invocation/next` for an event, `POST
.../invocation/{id}/response` or `/error` with the result — and reports an init failure with `POST
/2018-06-01/runtime/init/error`. In a SnapStart environment (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`)
it runs the before-snapshot hooks after init, waits on `GET /2018-06-01/runtime/restore/next`, then
runs the after-restore hooks (docs: "Using the Lambda runtime API for custom runtimes"; awslambdaric's
bootstrap.py). This module serves that API in-process and runs the artifact as Lambda would: a fresh
python3.13 process, the artifact first on the path, then a directory standing for /var/runtime
(awslambdaric and boto3, as the managed runtime provides them).

It is the one way this repository measures a cold start of the artifact (the benchmark uses it, and
`python -m bench.lambda_runtime` runs it alone): from process start to the response posted, with the
init phase (start to the first `/next`) and the first invocation (event handed out to response) apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.artifact import SAM_BUILD_DIR, find_python313

REPO = Path(__file__).resolve().parents[1]
API = "/2018-06-01/runtime"
FUNCTION_NAME = "slack-bot"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
# template.yaml's MemorySize, reported to the function as Lambda does.
MEMORY_SIZE_MB = "1024"


def _pin(requirements: Path, name: str) -> str:
    for line in requirements.read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.split("#")[0].strip()
    raise LookupError(f"{name} is not pinned in {requirements.name}")


def runtime_dir(cache: Path) -> Path:
    """What Lambda's python3.13 runtime puts on the path besides the artifact (/var/runtime): the Runtime
    Interface Client and boto3, at this repository's pins, installed once for CPython 3.13 on this machine."""
    pins = [_pin(REPO / "requirements-dev.txt", "awslambdaric"), _pin(REPO / "requirements-local.txt", "boto3")]
    machine = platform.machine()
    platform_tag = f"manylinux2014_{'aarch64' if machine in ('aarch64', 'arm64') else machine}"
    # Compiled to bytecode, as pip installs by default: we take Lambda's managed runtime to ship boto3's
    # .pyc files (no AWS document says so either way). Without them boto3 and botocore would be compiled
    # from source on every cold start: the deployed artifact row measured 699 ms instead of 399 ms.
    key = hashlib.sha256(" ".join([*pins, platform_tag, "bytecode"]).encode()).hexdigest()[:12]
    target = cache / f"lambda-runtime-{key}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
            "--target", str(target), "--platform", platform_tag, "--python-version", "3.13",
            "--implementation", "cp", "--only-binary=:all:", *pins,
        ],
        check=True,
    )  # fmt: skip
    (target / ".complete").touch()
    return target


@dataclass
class Invocation:
    request_id: str
    event: Any
    handed_out_at: float | None = None
    done_at: float | None = None
    # "response" or "error", with the body the runtime posted.
    outcome: str | None = None
    body: Any = None
    error_type: str | None = None


@dataclass
class RuntimeAPI:
    """The Runtime API of one execution environment: events are queued, results recorded with their times."""

    # None: the environment is shut down (a runtime still waiting on /next is let go).
    invocations: queue.Queue[Invocation | None] = field(default_factory=queue.Queue)
    by_id: dict[str, Invocation] = field(default_factory=dict)
    first_next_at: float | None = None
    restore_next_at: float | None = None
    init_error: dict[str, Any] | None = None
    done: threading.Condition = field(default_factory=threading.Condition)
    address: str = ""

    def invoke(self, event: Any) -> Invocation:
        invocation = Invocation(str(uuid.uuid4()), event)
        self.by_id[invocation.request_id] = invocation
        self.invocations.put(invocation)
        return invocation

    def wait(self, invocation: Invocation, timeout: float) -> Invocation:
        with self.done:
            self.done.wait_for(lambda: invocation.outcome is not None or self.init_error is not None, timeout)
        return invocation

    def wait_init_error(self, timeout: float) -> dict[str, Any] | None:
        with self.done:
            self.done.wait_for(lambda: self.init_error is not None, timeout)
        return self.init_error

    def _finish(self, update: Any) -> None:
        with self.done:
            update()
            self.done.notify_all()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                now = time.perf_counter()
                if self.path == f"{API}/invocation/next":
                    if api.first_next_at is None:
                        api.first_next_at = now
                    invocation = api.invocations.get()  # blocks, as Lambda's does between events
                    if invocation is None:
                        self.close_connection = True
                        self._answer(503)
                        return
                    invocation.handed_out_at = time.perf_counter()
                    deadline = int(time.time() * 1000) + 10_000
                    self._answer(
                        200,
                        json.dumps(invocation.event).encode(),
                        {
                            "Content-Type": "application/json",
                            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                            "Lambda-Runtime-Deadline-Ms": str(deadline),
                            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                        },
                    )
                elif self.path == f"{API}/restore/next":
                    api.restore_next_at = now
                    self._answer(200)
                else:
                    self._answer(404)

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path.removeprefix(API).strip("/").split("/")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if parts[:1] == ["invocation"] and len(parts) == 3 and parts[1] in api.by_id:
                    invocation = api.by_id[parts[1]]

                    def record() -> None:
                        invocation.done_at = time.perf_counter()
                        invocation.outcome, invocation.error_type = parts[2], error_type
                        invocation.body = json.loads(body) if body else None

                    self._answer(202, b'{"status":"OK"}')
                    api._finish(record)
                elif parts in (["init", "error"], ["restore", "error"]):
                    self._answer(202, b'{"status":"OK"}')
                    api._finish(lambda: setattr(api, "init_error", {"type": error_type, **json.loads(body or b"{}")}))
                else:
                    self._answer(404)

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the runtime process ended mid-request
            super().handle_error(request, client_address)


class LambdaEnvironment:
    """One execution environment: the fake Runtime API, and `python3.13 -m awslambdaric HANDLER` against it."""

    def __init__(
        self,
        artifact: Path,
        runtime: Path,
        env: dict[str, str],
        handler: str = "handler.handler",
        python: str | None = None,
        log: Path | None = None,
    ) -> None:
        self.api = RuntimeAPI()
        self._server = _Server(("127.0.0.1", 0), self.api.handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.api.address = f"127.0.0.1:{self._server.server_port}"
        self._artifact, self._runtime, self._handler = artifact, runtime, handler
        self._python = python or find_python313() or "python3.13"
        self._env = env
        self._log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def __enter__(self) -> LambdaEnvironment:
        self._thread.start()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            # Lambda's path: the function first, then the runtime's own packages.
            "PYTHONPATH": os.pathsep.join([str(self._artifact), str(self._runtime)]),
            "LAMBDA_TASK_ROOT": str(self._artifact),
            "LAMBDA_RUNTIME_DIR": str(self._runtime),
            "_HANDLER": self._handler,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": MEMORY_SIZE_MB,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            # /var/task is read-only on Lambda: bytecode is what the artifact ships, nothing is written.
            "PYTHONDONTWRITEBYTECODE": "1",
            **self._env,
        }
        log = self._log_path.open("wb") if self._log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        # -S: no site-packages at all (a venv's python3.13 would otherwise lend the function whatever
        # the artifact lacks); the path is the artifact and the runtime directory alone. cwd: the task root.
        self.process = subprocess.Popen(
            [self._python, "-S", "-m", "awslambdaric", self._handler],
            env=env,
            cwd=self._artifact,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if self._log_path:
            log.close()  # type: ignore[union-attr]
        return self

    def invoke(self, event: Any, timeout: float = 60) -> Invocation:
        invocation = self.api.wait(self.api.invoke(event), timeout)
        if invocation.outcome is None and self.api.init_error is None:
            raise TimeoutError(f"no result within {timeout} s:\n{self.output()}")
        return invocation

    def peak_rss_mb(self) -> float | None:
        """The runtime process's own VmHWM, read while it waits for its next event."""
        assert self.process is not None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def output(self) -> str:
        return self._log_path.read_text(errors="replace")[-4000:] if self._log_path else ""

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.api.invocations.put(None)
        self._server.shutdown()
        self._server.server_close()


def cold_start(
    artifact: Path, runtime: Path, env: dict[str, str], events: list[Any], log: Path | None = None
) -> dict[str, Any]:
    """One fresh execution environment handling `events` in turn; times from this side of the Runtime API."""
    with LambdaEnvironment(artifact, runtime, env, log=log) as lambda_env:
        results = [lambda_env.invoke(event) for event in events]
        peak = lambda_env.peak_rss_mb()
        api, started = lambda_env.api, lambda_env.started_at
    if api.init_error is not None:
        raise RuntimeError(f"init failed: {api.init_error}")
    first = results[0]
    assert api.first_next_at is not None and first.handed_out_at and first.done_at
    init_done = api.restore_next_at if api.restore_next_at is not None else api.first_next_at
    return {
        "wall_s": first.done_at - started,
        "init_s": init_done - started,
        "first_invoke_s": first.done_at - first.handed_out_at,
        "invoke_s": [r.done_at - r.handed_out_at for r in results if r.done_at and r.handed_out_at],
        "restored": api.restore_next_at is not None,
        "outcomes": [r.outcome for r in results],
        "statuses": [r.body.get("statusCode") if isinstance(r.body, dict) else None for r in results],
        "peak_rss_mb": peak,
    }


def main(argv: list[str] | None = None) -> int:
    from bench.common import BOT_TOKEN, SIGNING_SECRET
    from bolt_app.local import slack_requests as sr
    from bolt_app.local.fake_slack import FakeSlack

    parser = argparse.ArgumentParser(prog="python -m bench.lambda_runtime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--artifact", type=Path, default=REPO / SAM_BUILD_DIR)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true", help="strip __pycache__ first (read-only /var/task)")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / "results" / "cache")
    args = parser.parse_args(argv)
    artifact = args.artifact.resolve()
    if not (artifact / "handler.py").is_file():
        raise SystemExit(f"{artifact} holds no handler.py: run `sam build` first")
    runtime = runtime_dir(args.cache)
    runs = []
    with tempfile.TemporaryDirectory() as tmp, FakeSlack(bot_token=BOT_TOKEN).serve() as slack:
        if args.no_bytecode:
            copy = Path(tmp) / "task"
            shutil.copytree(artifact, copy, ignore=shutil.ignore_patterns("__pycache__"))
            artifact = copy
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url}
        for _ in range(args.runs):
            slack.reset()
            event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("hello"))))
            run = cold_start(artifact, runtime, env, [event], log=Path(tmp) / "log")
            if run["statuses"] != [200] or len(slack.calls_to("chat.postMessage")) != 1:
                raise SystemExit(f"the cold environment did not answer the DM: {run}")
            runs.append(run)
    summary = {
        key: round(statistics.median(r[key] for r in runs) * 1000, 1) for key in ("wall_s", "init_s", "first_invoke_s")
    }
    summary["peak_rss_mb_max"] = round(max(r["peak_rss_mb"] or 0 for r in runs), 1)
    print(json.dumps({"runs": args.runs, "bytecode": not args.no_bytecode, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
