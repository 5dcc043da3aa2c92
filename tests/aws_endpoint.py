"""A real HTTP endpoint in front of moto's server, for what moto cannot do: count the calls each
service receives, and answer slowly or with AWS's throttling errors.

Point a service at it with AWS_ENDPOINT_URL_<SERVICE> (boto3's standard endpoint configuration).
Calls are told apart by the X-Amz-Target header of AWS's JSON protocols
(`secretsmanager.GetSecretValue`, `DynamoDB_20120810.PutItem`).

`hold_answers` models a lost answer: the call reaches moto (a PutItem lands) and its answer is
held back past the client's read timeout, so botocore retries a call that has already succeeded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# DynamoDB's own answers (JSON 1.0 protocol, HTTP 400), as botocore parses and classifies them.
DYNAMODB_THROTTLING = {
    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
    "message": "Rate of requests exceeds the allowed throughput.",
}
DYNAMODB_THROUGHPUT_EXCEEDED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API.",
}


class AwsEndpoint:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        # Seconds to hold every call before answering (a slow service).
        self.delay = 0.0
        # An error body to answer every call with, HTTP 400 (a throttled service); None forwards to moto.
        self.error: dict[str, str] | None = None
        # The X-Amz-Target values delay and error apply to; None: every call.
        self.faulty_targets: set[str] | None = None
        # target -> how many of its next calls are forwarded to moto and answered only after
        # `hold_seconds` (the write lands; its answer comes too late for the client).
        self.hold_answers: Counter[str] = Counter()
        self.hold_seconds = 0.8
        self.url = ""
        self._lock = threading.Lock()

    def count(self, target: str) -> int:
        with self._lock:
            return self.calls[target]

    @contextmanager
    def serve(self) -> Iterator[AwsEndpoint]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                with endpoint._lock:
                    endpoint.calls[target] += 1
                    held = endpoint.hold_answers[target] > 0
                    if held:
                        endpoint.hold_answers[target] -= 1
                faulty = endpoint.faulty_targets is None or target in endpoint.faulty_targets
                if faulty and endpoint.delay:
                    time.sleep(endpoint.delay)
                if faulty and endpoint.error is not None:
                    self._answer(400, json.dumps(endpoint.error).encode(), "application/x-amz-json-1.0")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(endpoint.upstream + self.path, data=body, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, data, content_type = answer.status, answer.read(), answer.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, data, content_type = error.code, error.read(), error.headers.get("Content-Type")
                except OSError:  # moto gone: a delayed call outlived its test
                    return
                if held:
                    time.sleep(endpoint.hold_seconds)
                self._answer(status, data, content_type or "application/x-amz-json-1.1")

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-amzn-RequestId", "test-request-id")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away: what a slow service sees too

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
