"""Child processes for the tests: another cold Lambda container, or `python -m bolt_app`.

Their output is read by a thread into a queue, so that a child that hangs fails the test after a
deadline instead of blocking CI, and a chatty child never fills its pipe.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Generous: a cold import on a loaded 2-core machine has been seen to take a few seconds.
DEADLINE_SECONDS = 60


class _Child:
    def __init__(self, args: list[str], env: dict[str, str], stdin: bool = False) -> None:
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def read_until(self, prefix: str = "") -> str:
        """The next line starting with `prefix`; fails if the child exits or stays silent too long."""
        while True:
            try:
                line = self._lines.get(timeout=DEADLINE_SECONDS)
            except queue.Empty:
                raise AssertionError(
                    f"no {prefix!r} line within {DEADLINE_SECONDS} s:\n" + "".join(self.output)
                ) from None
            if line is None:
                raise AssertionError("child exited early:\n" + "".join(self.output))
            self.output.append(line)
            if line.startswith(prefix):
                return line

    def stop(self) -> str:
        """Ends the child (closing its stdin first, so a container exits by itself) and returns all it printed."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                self.output.append(line)
        return "".join(self.output)


class Container(_Child):
    """`tests/lambda_container.py`: imports `handler` cold and handles the events it is sent."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(
            [sys.executable, str(ROOT / "tests" / "lambda_container.py")], {**env, "PYTHONPATH": str(ROOT)}, stdin=True
        )
        self.read_until("READY")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        return json.loads(self.read_until("RESPONSE ")[len("RESPONSE ") :])

    def close(self) -> str:
        return self.stop() if self.process.returncode is None else "".join(self.output)

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalBot(_Child):
    """`python -m bolt_app ARGS` as a person starts it, read line by line (`read_until`)."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        super().__init__([sys.executable, "-m", "bolt_app", *args], env)

    def interrupt(self) -> str:
        """Ctrl+C, as in a terminal; returns everything it printed (waits for it to exit)."""
        self.process.send_signal(signal.SIGINT)
        # If it ignores Ctrl+C, stop() ends it and the test sees a return code that is not 0.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=DEADLINE_SECONDS)
        return self.stop()


@contextmanager
def local_bot(*args: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m bolt_app ARGS` as a person starts it; yields the process and its first line."""
    child = LocalBot(*args, env=env)
    try:
        yield child.process, child.read_until()
    finally:
        child.stop()
