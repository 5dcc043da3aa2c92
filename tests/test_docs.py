"""The README and docs/ are a tested artifact: their Python blocks run as pasted, their paths exist, and no
test depends on a name the README tells people to add."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)\n(?P<code>.*?)^(?P=indent)```", re.DOTALL | re.MULTILINE)
# A block whose first line names a file (`# bolt_app/listeners/x.py`) is that file, or one to create there.
NAMED_FILE = re.compile(r"^# (?P<path>[\w./-]+\.py)(?P<excerpt>, excerpt\b.*)?\n")


def _blocks(lang: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in FENCE.finditer(doc.read_text()):
            if match["lang"] == lang:
                code = "\n".join(line.removeprefix(match["indent"]) for line in match["code"].splitlines()) + "\n"
                line = doc.read_text()[: match.start()].count("\n") + 1
                found.append((f"{doc.relative_to(ROOT)}:{line}", code))
    return found


PYTHON_BLOCKS = _blocks("python")


def test_the_readme_has_python_blocks_to_check() -> None:
    # The README's "Add your own command", "Add a slow command" and "Add a button handler".
    assert len([where for where, _ in PYTHON_BLOCKS if where.startswith("README.md")]) >= 4


@pytest.mark.parametrize(("where", "code"), PYTHON_BLOCKS, ids=[where for where, _ in PYTHON_BLOCKS])
def test_every_python_block_compiles_and_passes_ruff(where: str, code: str) -> None:
    compile(code, where, "exec")
    named = NAMED_FILE.match(code)
    # Checked as the file it says it is (the project's ruff settings, its import sorting by location).
    filename = named["path"] if named else "snippet.py"
    # An excerpt of a file uses some of its imports in lines it does not show.
    ignore = ["--extend-ignore", "F401"] if named and named["excerpt"] else []
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *ignore, "--stdin-filename", filename, "-"],
        input=code,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ruff.returncode == 0, f"{where}:\n{ruff.stdout}{ruff.stderr}"


@pytest.mark.parametrize(("where", "code"), PYTHON_BLOCKS, ids=[where for where, _ in PYTHON_BLOCKS])
def test_every_name_a_python_block_imports_exists(where: str, code: str) -> None:
    # ruff does not look into other modules: a block naming a moved module or a missing name fails here.
    new_modules = {
        m["path"].removesuffix(".py").replace("/", ".") for _, c in PYTHON_BLOCKS if (m := NAMED_FILE.match(c))
    }
    missing = []
    for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)$", code, re.MULTILINE):
        for name in (n.strip() for n in names.split(",")):
            if f"{module}.{name}" in new_modules:
                continue  # the module the block tells you to write
            try:
                found = hasattr(importlib.import_module(module), name) or importlib.util.find_spec(f"{module}.{name}")
            except ImportError:
                found = False
            if not found:
                missing.append(f"{module}.{name}")
    assert missing == [], where


def _readme_example_names() -> set[str]:
    """What the README tells people to add: its slash commands, and the modules its blocks name."""
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r'app\.command\("(/[\w-]+)"\)', readme))
    names |= set(re.findall(r'"command": "(/[\w-]+)"', readme))
    names |= set(re.findall(r'app\.action\("([\w-]+)"\)', readme))
    # The modules it tells you to write, as a test would import or name them.
    for path in re.findall(r"^# (bolt_app/[\w/]+)\.py$", readme, re.MULTILINE):
        if not (ROOT / f"{path}.py").exists():
            names |= {path + ".py", path.replace("/", ".")}
    declared = _declared_names()
    return {n for n in names if n not in declared}


def _declared_names() -> set[str]:
    import json

    manifest = json.loads((ROOT / "slack" / "manifest.json").read_text())
    return {c["command"] for c in manifest.get("features", {}).get("slash_commands", [])}


def test_no_test_uses_a_name_the_readme_tells_people_to_add() -> None:
    """Following the README (adding its /deploy, say) must never break `make test`."""
    examples = _readme_example_names()
    assert "/deploy" in examples  # the README's first example, so this test can fail
    me = Path(__file__).resolve()
    offenders = []
    for test_file in sorted((ROOT / "tests").rglob("*.py")):
        if test_file.resolve() == me:
            continue
        text = test_file.read_text()
        for name in examples:
            if re.search(rf"(?<![\w/-]){re.escape(name)}(?![\w-])", text):
                offenders.append(f"{test_file.relative_to(ROOT)}: {name}")
    assert offenders == []


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_relative_links_point_at_files_that_exist(doc: Path) -> None:
    missing = []
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", doc.read_text()):
        if not (doc.parent / target).exists():
            missing.append(target)
    # docs/chatops.md and docs/alerts.md come from the features that write them.
    missing = [m for m in missing if os.path.basename(m) not in ("chatops.md", "alerts.md")]
    assert missing == []


def _reference_run() -> dict:
    import json

    [reference] = sorted((ROOT / "bench" / "reference").glob("*.json"))[-1:]
    return json.loads(reference.read_text())


def test_performance_figures_are_the_reference_runs() -> None:
    """docs/performance.md quotes bench/reference/*.json: a figure that drifts from it fails here."""
    run = _reference_run()
    built, floor = run["artifact"]["built"], run["artifact"]["floor"]
    cold, dm = run["cold"]["handler"], run["warm"]["handler"]["dm"]
    rows = (ROOT / "docs" / "performance.md").read_text()
    expected = [
        f"Measured {run['date']}",
        f"Python {run['python']}",
        f"| {cold['wall_ms']:.0f} ms |",
        f"{dm['p50_ms']:.2f} / {dm['p99_ms']:.2f} ms",
        f"{built['unzipped_bytes'] / 1e6:.1f} / {built['zipped_bytes'] / 1e6:.1f} MB ({built['modules']} modules)",
        f"{floor['unzipped_bytes'] / 1e6:.1f} / {floor['zipped_bytes'] / 1e6:.1f} MB ({floor['modules']} modules)",
    ]
    assert [figure for figure in expected if figure not in rows] == []


def test_the_artifacts_size_is_quoted_in_one_place_only() -> None:
    # It was "11.8 MB, 763 modules" in one place and "11.9 MB, 771 modules" in another, both stale.
    quoting = [str(d.relative_to(ROOT)) for d in DOCS if re.search(r"\d+ modules", d.read_text())]
    assert quoting == ["docs/performance.md"]


def _readme_module(tmp_path: Path, path: str):
    """The README's block for `path`, as pasted into that file, imported."""
    [code] = [c for _, c in PYTHON_BLOCKS if (m := NAMED_FILE.match(c)) and m["path"] == path and not m["excerpt"]]
    module_file = tmp_path / Path(path).name
    module_file.write_text(code)
    spec = importlib.util.spec_from_file_location(f"readme_{module_file.stem}", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_slow_command_runs_as_pasted(tmp_path: Path, aws_endpoint: str, slack) -> None:
    """Its ack answers in the channel; its lazy work reads AWS (moto here) and replaces the ack with a real
    result through the response_url, checking Slack's answer."""
    from slack_bolt import App

    module = _readme_module(tmp_path, "bolt_app/listeners/lambda_functions.py")
    app = App(token="xoxb-unused", signing_secret="unused", token_verification_enabled=False)
    module.register(app)  # Bolt accepts the ack and the lazy function as written

    acked: list[dict] = []
    module.acknowledge(lambda **answer: acked.append(answer))
    # What Slack makes of the ack: a message in the channel, which the command's response_url can replace.
    shown = slack.add_message("C0GENERAL1", {"user": slack.bot_user_id, "text": acked[0]["text"]})
    response_url = slack.new_response_url(channel="C0GENERAL1")
    slack.set_response_url_message(response_url, shown["ts"])
    module.report({"response_url": response_url, "text": ""})

    assert acked == [{"response_type": "in_channel", "text": "Listing this account's Lambda functions…"}]
    [post] = slack.response_posts
    assert post.payload["response_type"] == "in_channel" and post.payload["replace_original"] is True
    assert [m["text"] for m in slack.messages("C0GENERAL1")] == ["0 Lambda functions in this region: none"]


def test_the_readmes_slow_command_fails_its_invocation_when_slack_refuses_the_post(
    tmp_path: Path, aws_endpoint: str, slack
) -> None:
    from bolt_app.slack_web.slack_retries import ResponseUrlFailed

    module = _readme_module(tmp_path, "bolt_app/listeners/lambda_functions.py")
    expired = slack.base_url + "/response/never-issued"
    with pytest.raises(ResponseUrlFailed):
        module.report({"response_url": expired, "text": ""})
