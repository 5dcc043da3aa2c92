"""`/instances` through `handler.handler`: signed commands and clicks, the lazy work delivered from the fake
Lambda Invoke endpoint, EC2 and DynamoDB from moto's server, Slack from the fake Web API and response URLs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bolt_app.chatops import registry_of
from bolt_app.foundation import aws_clients
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_aws import FakeLambda
from bolt_app.local.fake_ec2 import FakeEC2
from bolt_app.local.fake_slack import FakeSlack
from tests.conftest import lambda_env, signed
from tests.containers import Container

CHANNEL = "C0GENERAL1"
ANA = "U0OPER0001"  # an operator: may list and act
OTTO = "U0OPER0002"  # another operator: may act, may not approve
BOB = "U0APPR0001"  # an approver
CAROL = "U0APPR0002"  # another approver
GUEST = "U0GUEST001"  # in no role
ADMIN = "U0ADMIN001"  # may act and approve
FUNCTION_NAME = "slack-bolt-bot"
POLICY = f"""
[roles]
admins = ["{ADMIN}"]
operators = ["{ANA}", "{OTTO}"]
approvers = ["{BOB}", "{CAROL}"]

[commands."/instances"]
allow = ["operators", "admins"]
act = ["operators", "admins"]
approve = ["approvers", "admins"]
"""


@pytest.fixture(scope="session")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text(POLICY)
    return str(path)


@pytest.fixture(scope="session")
def fake_lambda_server() -> Iterator[FakeLambda]:
    with FakeLambda().serve() as fake:
        yield fake


@pytest.fixture
def lambda_api(
    monkeypatch: pytest.MonkeyPatch, fake_lambda_server: FakeLambda, aws_endpoint: str
) -> Iterator[FakeLambda]:
    fake_lambda_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake_lambda_server.base_url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
    aws_clients.reset()
    yield fake_lambda_server
    aws_clients.reset()


def _ec2(aws_endpoint: str) -> Any:
    import boto3

    return boto3.client("ec2", endpoint_url=aws_endpoint)


def launch(ec2: Any, name: str, **tags: str) -> str:
    all_tags = [{"Key": "Name", "Value": name}, *({"Key": k, "Value": v} for k, v in tags.items())]
    answer = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": all_tags}],
    )
    return answer["Instances"][0]["InstanceId"]


@pytest.fixture
def fleet(aws_endpoint: str, lambda_api: FakeLambda) -> dict[str, str]:
    """web-1 (plain), db-1 (needs a second person), stray (untagged), in a region of their own."""
    ec2 = _ec2(aws_endpoint)
    # moto's state lasts the session: what earlier tests launched is terminated (never listed).
    running = [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    if running:
        ec2.terminate_instances(InstanceIds=running)
    return {
        "web-1": launch(ec2, "web-1", ChatOps="enabled"),
        "db-1": launch(ec2, "db-1", ChatOps="enabled", ChatOpsApproval="required"),
        "stray": launch(ec2, "stray"),
    }


def state_of(aws_endpoint: str, instance_id: str) -> str:
    answer = _ec2(aws_endpoint).describe_instances(InstanceIds=[instance_id])
    return answer["Reservations"][0]["Instances"][0]["State"]["Name"]


class Workspace:
    """Plays Slack for one channel: sends signed commands and clicks to `invoke`, shows what comes back, and
    plays Lambda's async queue for the lazy work (`invoke_lazy`)."""

    def __init__(self, slack: FakeSlack, lambda_api: FakeLambda, invoke: Any, invoke_lazy: Any = None) -> None:
        self.slack, self.lambda_api, self.invoke = slack, lambda_api, invoke
        self.invoke_lazy = invoke_lazy or invoke
        self.delivered = 0
        self.audit: Any = None

    def run_lazy(self) -> None:
        invocations = self.lambda_api.invocations[self.delivered :]
        self.delivered += len(invocations)
        for invocation in invocations:
            self.invoke_lazy(json.loads(json.dumps(invocation.payload)))

    def command(self, user: str, text: str = "") -> dict[str, Any]:
        response_url = self.slack.new_response_url(channel=CHANNEL, user=user)
        fields = sr.slash_command("/instances", text, response_url=response_url, user=user, channel=CHANNEL)
        response = self.invoke(signed(sr.form_body(fields)))
        assert response["statusCode"] == 200, response
        body = response["body"]
        answer = json.loads(body) if body.startswith("{") else {"text": body}
        if answer.get("response_type") == "in_channel":
            shown = self.slack.add_message(
                CHANNEL, {"user": "U0FAKEBOT1", "bot_id": "B0FAKEBOT1", "text": answer["text"]}
            )
            self.slack.set_response_url_message(response_url, shown["ts"])
        self.run_lazy()
        return answer

    def click_event(self, user: str, message: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
        response_url = self.slack.new_response_url(channel=CHANNEL, message_ts=message["ts"], user=user)
        payload = sr.block_actions(action, response_url=response_url, message=message, user=user, channel=CHANNEL)
        return signed(sr.interactive_body(payload))

    def click(self, user: str, message: dict[str, Any], action_id: str, block_id: str | None = None) -> None:
        action = sr.button_click(message.get("blocks") or [], action_id, block_id)
        response = self.invoke(self.click_event(user, message, action))
        assert response["statusCode"] == 200, response
        self.run_lazy()

    def messages(self) -> list[dict[str, Any]]:
        return self.slack.messages(CHANNEL)

    def list_message(self) -> dict[str, Any]:
        return next(
            m
            for m in self.messages()
            if any(b.get("block_id", "").startswith("instance:") for b in m.get("blocks") or [])
        )

    def approval_message(self) -> dict[str, Any]:
        return next(
            m
            for m in reversed(self.messages())
            if "asks to" in m.get("text", "") or m.get("blocks", [{}])[0].get("block_id") == "approval_closed"
        )

    def private_to(self, user: str) -> list[str]:
        return [m["text"] for m in self.messages() if m.get("ephemeral") and m.get("ephemeral_to") == user]

    def public_lines(self) -> list[str]:
        return [m["text"] for m in self.messages() if not m.get("ephemeral")]


def row_block(message: dict[str, Any], instance_id: str) -> dict[str, Any]:
    return next(b for b in message["blocks"] if b.get("block_id", "").endswith(":" + instance_id))


@pytest.fixture
def workspace(slack: FakeSlack, lambda_api: FakeLambda, fresh_container: Any, policy_file: str) -> Workspace:
    """One Lambda container with the test policy (in-memory claims and approvals)."""
    module = fresh_container(CHATOPS_POLICY_FILE=policy_file)
    workspace = Workspace(slack, lambda_api, lambda event: module.handler(event, sr.LambdaContext()))
    workspace.audit = registry_of(module.bot.lambda_adapter.app).audit
    return workspace


# -- listing ----------------------------------------------------------------------------------------


def test_instances_answers_at_once_then_lists_only_tagged_instances(
    workspace: Workspace, fleet: dict[str, str]
) -> None:
    answer = workspace.invoke(
        signed(sr.form_body(sr.slash_command("/instances", response_url=workspace.slack.new_response_url(), user=ANA)))
    )
    assert json.loads(answer["body"]) == {"response_type": "in_channel", "text": "Looking up instances…"}
    assert workspace.slack.response_posts == []  # listing is lazy work, in its own invocation
    [invocation] = workspace.lambda_api.invocations
    assert invocation.payload["headers"]["x-slack-bolt-lazy-function-name"] == "list_instances"

    workspace.lambda_api.reset()
    workspace.delivered = 0
    workspace.command(ANA)
    listing = workspace.list_message()
    text = json.dumps(listing["blocks"])
    assert fleet["web-1"] in text and fleet["db-1"] in text
    assert fleet["stray"] not in text and "stray" not in text  # untagged: never listed
    web = row_block(listing, fleet["web-1"])
    assert "*web-1*" in web["text"]["text"] and "t3.micro" in web["text"]["text"] and "running" in web["text"]["text"]
    button = web["accessory"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        f"instances_stop:{fleet['web-1']}",
        fleet["web-1"],
        "Stop",
    )
    assert button["confirm"]["text"]["text"] == f"Stop *web-1* ({fleet['web-1']})?"
    assert button["confirm"]["confirm"]["text"] == "Stop" and button["confirm"]["deny"]["text"] == "Cancel"
    db = row_block(listing, fleet["db-1"])
    assert "second person" in db["text"]["text"]


def test_more_instances_than_fit_show_the_first_ones_and_how_many_more(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    ec2 = _ec2(aws_endpoint)
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=58,
        MaxCount=58,
        InstanceType="t3.nano",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "ChatOps", "Value": "enabled"}]}],
    )
    workspace.command(ANA)
    listing = workspace.list_message()  # the fake Slack refuses more than 50 blocks (invalid_blocks), as Slack does
    assert len(listing["blocks"]) == 50
    rows = [b for b in listing["blocks"] if b.get("block_id", "").startswith("instance:")]
    assert len(rows) == 47
    more = next(b for b in listing["blocks"] if b.get("block_id") == "instances_more")
    assert "and 13 more" in more["elements"][0]["text"]
    assert listing["text"].startswith("60 instances")


# -- start and stop ---------------------------------------------------------------------------------


def test_stop_acts_updates_the_list_and_says_who_did_it(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    workspace.command(ANA)
    listing = workspace.list_message()
    workspace.click(ANA, listing, f"instances_stop:{fleet['web-1']}")

    assert state_of(aws_endpoint, fleet["web-1"]) in ("stopping", "stopped")
    line = f"<@{ANA}> stopped *web-1* ({fleet['web-1']}): running → stopping"
    assert line in workspace.public_lines()
    refreshed = workspace.list_message()
    assert refreshed["ts"] == listing["ts"]  # the same message, updated
    web = row_block(refreshed, fleet["web-1"])
    assert "running" not in web["text"]["text"]
    assert web["block_id"] != row_block(listing, fleet["web-1"])["block_id"]  # a new rendering


def test_start_a_stopped_instance(workspace: Workspace, fleet: dict[str, str], aws_endpoint: str) -> None:
    _ec2(aws_endpoint).stop_instances(InstanceIds=[fleet["web-1"]])
    workspace.command(ANA)
    listing = workspace.list_message()
    row = row_block(listing, fleet["web-1"])
    assert row["accessory"]["text"]["text"] == "Start"
    workspace.click(ANA, listing, f"instances_start:{fleet['web-1']}")
    assert state_of(aws_endpoint, fleet["web-1"]) in ("pending", "running")
    assert f"<@{ANA}> started *web-1* ({fleet['web-1']}): stopped → pending" in workspace.public_lines()


def test_a_double_click_acts_once(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, lambda_api: FakeLambda
) -> None:
    workspace.command(ANA)
    listing = workspace.list_message()
    action = sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}")
    # Two payloads for the same rendered button, both acknowledged before either lazy run.
    for _ in range(2):
        assert workspace.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    workspace.run_lazy()
    lines = [line for line in workspace.public_lines() if "stopped *web-1*" in line]
    assert len(lines) == 1
    assert any("already handled" in text for text in workspace.private_to(ANA))


def test_an_instance_that_lost_its_tag_is_refused(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    workspace.command(ANA)
    listing = workspace.list_message()
    _ec2(aws_endpoint).delete_tags(Resources=[fleet["web-1"]], Tags=[{"Key": "ChatOps"}])
    workspace.click(ANA, listing, f"instances_stop:{fleet['web-1']}")
    assert state_of(aws_endpoint, fleet["web-1"]) == "running"
    assert any("no longer tagged `ChatOps=enabled`" in t for t in workspace.private_to(ANA))
    assert fleet["web-1"] not in json.dumps(workspace.list_message()["blocks"])  # the list no longer shows it


def test_an_instance_that_is_gone_is_answered(workspace: Workspace, fleet: dict[str, str], aws_endpoint: str) -> None:
    workspace.command(ANA)
    listing = workspace.list_message()
    # A button for an instance EC2 does not know (terminated and gone): the message as Slack still shows it.
    gone = "i-0123456789abcdef0"
    action = {
        **sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}"),
        "action_id": f"instances_stop:{gone}",
        "value": gone,
    }
    workspace.invoke(workspace.click_event(ANA, listing, action))
    workspace.run_lazy()
    assert any(f"`{gone}` no longer exists" in t for t in workspace.private_to(ANA))


# -- the two-person rule ----------------------------------------------------------------------------


def ask_to_stop_db(workspace: Workspace, fleet: dict[str, str], requester: str = ANA) -> dict[str, Any]:
    workspace.command(requester)
    listing = workspace.list_message()
    workspace.click(requester, listing, f"instances_stop:{fleet['db-1']}")
    return workspace.approval_message()


def test_an_instance_needing_approval_is_not_acted_on_at_first_click(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    request = ask_to_stop_db(workspace, fleet)
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"
    assert request["text"].startswith(f"<@{ANA}> asks to stop *db-1* ({fleet['db-1']})")
    buttons = request["blocks"][1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Approve", "Deny"]


def test_the_requester_cannot_approve_their_own_request(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    # An admin may act and approve, but not approve their own request.
    request = ask_to_stop_db(workspace, fleet, requester=ADMIN)
    workspace.click(ADMIN, request, "instances_approve")
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"
    assert any("You asked for this" in t for t in workspace.private_to(ADMIN))
    assert workspace.approval_message()["blocks"][1]["elements"]  # still open
    # Nor may the requester's fellow operator, who is not an approver: the policy refuses the click.
    workspace.click(OTTO, request, "instances_approve")
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"
    assert any("is for approvers and admins" in t for t in workspace.private_to(OTTO))
    assert workspace.approval_message()["blocks"][1]["elements"]  # still open


def test_a_second_person_approves_and_the_action_runs(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str
) -> None:
    request = ask_to_stop_db(workspace, fleet)
    workspace.click(BOB, request, "instances_approve")
    assert state_of(aws_endpoint, fleet["db-1"]) in ("stopping", "stopped")
    line = f"<@{ANA}> stopped *db-1* ({fleet['db-1']}), approved by <@{BOB}>: running → stopping"
    assert line in workspace.public_lines()
    closed = workspace.approval_message()
    assert closed["ts"] == request["ts"] and len(closed["blocks"]) == 1  # no buttons left
    assert closed["text"].startswith(f"<@{BOB}> approved <@{ANA}>'s request to stop *db-1*")
    # A second decision does nothing, and says so.
    workspace.click(CAROL, request, "instances_deny")
    assert any(f"already approved by <@{BOB}>" in t for t in workspace.private_to(CAROL))


def test_a_denied_request_changes_nothing(workspace: Workspace, fleet: dict[str, str], aws_endpoint: str) -> None:
    request = ask_to_stop_db(workspace, fleet)
    workspace.click(BOB, request, "instances_deny")
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"
    assert (
        workspace.approval_message()["text"]
        == f"<@{BOB}> denied <@{ANA}>'s request to stop *db-1* ({fleet['db-1']}); nothing was done."
    )


def test_a_click_after_expiry_changes_nothing(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolt_app.chatops import approvals

    monkeypatch.setattr(approvals, "APPROVAL_TTL_SECONDS", 0.5)
    request = ask_to_stop_db(workspace, fleet)
    time.sleep(0.6)
    workspace.click(BOB, request, "instances_approve")
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"
    assert any("has expired" in t for t in workspace.private_to(BOB))
    assert "expired after 15 minutes" in workspace.approval_message()["text"]


# -- who may, and the record of it ------------------------------------------------------------------


def test_a_guest_may_neither_list_nor_act(workspace: Workspace, fleet: dict[str, str], aws_endpoint: str) -> None:
    answer = workspace.command(GUEST)
    assert answer.get("response_type") != "in_channel" and "`/instances` is for operators and admins" in answer["text"]
    assert workspace.lambda_api.invocations == []  # no lazy listing: no AWS call at all
    workspace.command(ANA)
    listing = workspace.list_message()
    workspace.click(GUEST, listing, f"instances_stop:{fleet['web-1']}")
    assert state_of(aws_endpoint, fleet["web-1"]) == "running"
    assert any("`/instances` (act) is for operators and admins" in t for t in workspace.private_to(GUEST))
    refused = [r for r in workspace.audit.recent(user=GUEST) if r["decision"] == "refused"]
    assert {r["action"] for r in refused} == {"run", "act"}


def test_every_decision_is_audited(workspace: Workspace, fleet: dict[str, str]) -> None:
    request = ask_to_stop_db(workspace, fleet)
    workspace.click(BOB, request, "instances_approve")
    listing = workspace.list_message()
    workspace.click(ANA, listing, f"instances_stop:{fleet['web-1']}")
    records = list(reversed(workspace.audit.recent(limit=50)))
    trail = [(r["decision"], r["action"], r["target"], r["user"], r["approver"]) for r in records]
    assert trail == [
        ("requested", "stop", fleet["db-1"], ANA, None),
        ("approved", "stop", fleet["db-1"], ANA, BOB),
        ("executed", "stop", fleet["db-1"], ANA, BOB),
        ("executed", "stop", fleet["web-1"], ANA, None),
    ]
    assert all(r["command"] == "/instances" and r["channel"] == CHANNEL and r["time"] for r in records)
    assert records[2]["result"] == "running -> stopping"


# -- exactly once, across containers (DynamoDB) ------------------------------------------------------


@pytest.fixture
def two_containers(
    slack: FakeSlack, lambda_api: FakeLambda, idempotency_table: str, policy_file: str
) -> Iterator[tuple[Container, Container]]:
    """Two cold Lambda containers sharing the DynamoDB table, as two concurrent Lambda environments do."""
    env = lambda_env(
        slack,
        IDEMPOTENCY_TABLE=idempotency_table,
        CHATOPS_POLICY_FILE=policy_file,
        AWS_ENDPOINT_URL_LAMBDA=lambda_api.base_url,
        AWS_LAMBDA_FUNCTION_NAME=FUNCTION_NAME,
    )
    with Container(env) as first, Container(env) as second:
        yield first, second


def _lazy_payloads(workspace: Workspace) -> list[dict[str, Any]]:
    invocations = workspace.lambda_api.invocations[workspace.delivered :]
    workspace.delivered += len(invocations)
    return [json.loads(json.dumps(i.payload)) for i in invocations]


def _in_parallel(*calls: Any) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def test_a_click_replayed_at_another_container_acts_once(
    slack: FakeSlack, lambda_api: FakeLambda, fleet: dict[str, str], aws_endpoint: str, two_containers: Any
) -> None:
    first, second = two_containers
    workspace = Workspace(slack, lambda_api, first.invoke)
    workspace.command(ANA)
    listing = workspace.list_message()
    action = sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}")
    click = workspace.click_event(ANA, listing, action)
    # The same signed bytes at two containers within Slack's 5 minutes: each one's replay cache is its own.
    assert first.invoke(click)["statusCode"] == 200
    assert second.invoke(click)["statusCode"] == 200
    lazy = _lazy_payloads(workspace)
    assert len(lazy) == 2
    _in_parallel(lambda: first.invoke(lazy[0]), lambda: second.invoke(lazy[1]))
    assert [line for line in workspace.public_lines() if "stopped *web-1*" in line] == [
        f"<@{ANA}> stopped *web-1* ({fleet['web-1']}): running → stopping"
    ]
    assert state_of(aws_endpoint, fleet["web-1"]) in ("stopping", "stopped")


def test_a_double_click_on_two_containers_acts_once(
    slack: FakeSlack, lambda_api: FakeLambda, fleet: dict[str, str], two_containers: Any
) -> None:
    first, second = two_containers
    workspace = Workspace(slack, lambda_api, first.invoke)
    workspace.command(ANA)
    listing = workspace.list_message()
    action = sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}")
    # Two payloads (two signatures) for one rendered button, each to its own container.
    assert first.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    assert second.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    lazy = _lazy_payloads(workspace)
    _in_parallel(lambda: first.invoke(lazy[0]), lambda: second.invoke(lazy[1]))
    assert len([line for line in workspace.public_lines() if "stopped *web-1*" in line]) == 1
    assert len([t for t in workspace.private_to(ANA) if "already handled" in t]) == 1


def test_the_first_decision_wins_across_containers(
    slack: FakeSlack, lambda_api: FakeLambda, fleet: dict[str, str], aws_endpoint: str, two_containers: Any
) -> None:
    first, second = two_containers
    workspace = Workspace(slack, lambda_api, first.invoke)
    request = ask_to_stop_db(workspace, fleet)
    approve = sr.button_click(request["blocks"], "instances_approve")
    deny = sr.button_click(request["blocks"], "instances_deny")
    assert first.invoke(workspace.click_event(BOB, request, approve))["statusCode"] == 200
    assert second.invoke(workspace.click_event(CAROL, request, deny))["statusCode"] == 200
    lazy = _lazy_payloads(workspace)
    _in_parallel(lambda: first.invoke(lazy[0]), lambda: second.invoke(lazy[1]))
    closed = workspace.approval_message()
    approved = closed["text"].startswith(f"<@{BOB}> approved")
    denied = closed["text"].startswith(f"<@{CAROL}> denied")
    assert approved != denied, closed["text"]
    loser, winner = (CAROL, BOB) if approved else (BOB, CAROL)
    verb = "approved" if approved else "denied"
    assert [t for t in workspace.private_to(loser) if "already" in t] == [
        f"<@{ANA}>'s request to stop *db-1* ({fleet['db-1']}) was already {verb} by <@{winner}>; "
        "your click changed nothing."
    ]
    assert (state_of(aws_endpoint, fleet["db-1"]) == "running") == denied


# -- AWS's errors, by name (the local stand-in fleet: bolt_app/local/fake_ec2.py) ---------------------


def test_aws_errors_are_answered_by_name(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEC2(settle_seconds=600)
    web, batch = "i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60003"
    with fake.serve():
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", fake.base_url)
        aws_clients.reset()
        workspace.command(ANA)
        listing = workspace.list_message()
        listed = json.dumps(listing["blocks"])
        assert "web-1" in listed and "db-1" in listed and "batch-1" in listed
        assert "payroll" not in listed and "i-0a1b2c3d4e5f60004" not in listed  # untagged
        # batch-1 began stopping after the list was drawn: its Start button is stale.
        fake.set_state(batch, "stopping")
        workspace.click(ANA, listing, f"instances_start:{batch}")
        assert any(
            "Could not start *batch-1* (i-0a1b2c3d4e5f60003): AWS answered `IncorrectInstanceState`" in t
            for t in workspace.private_to(ANA)
        )
        # IAM refuses (a role without the grant): named, and nothing changed.
        fake.unauthorized.add("StopInstances")
        listing = workspace.list_message()
        workspace.click(ANA, listing, f"instances_stop:{web}")
        assert any("AWS answered `UnauthorizedOperation`" in t for t in workspace.private_to(ANA))
        assert fake.instances[web].state == "running"
        assert not [line for line in workspace.public_lines() if "stopped" in line or "started" in line]
    failed = [(r["target"], r["result"]) for r in workspace.audit.recent() if r["decision"] == "failed"]
    assert sorted(failed) == [(web, "UnauthorizedOperation"), (batch, "IncorrectInstanceState")]


def test_a_claim_whose_answer_was_lost_is_the_clicks_own(
    aws_endpoint: str, idempotency_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DynamoDB takes the claim but its answer comes after the client's read timeout; botocore's retry then
    # finds the click's own claim (bolt_app/foundation/claims.py): it is still this click's, and only its.
    from bolt_app.chatops.approvals import DynamoDBApprovals, new_request
    from bolt_app.chatops.claims import DynamoDBClickClaims
    from tests.aws_endpoint import AwsEndpoint

    with AwsEndpoint(aws_endpoint).serve() as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        aws_clients.reset()
        claims = DynamoDBClickClaims(idempotency_table)
        dynamodb.hold_answers["DynamoDB_20120810.PutItem"] = 1
        assert claims.claim("C0GENERAL1:1.000001:instance:ab12cd34:i-0abc:instances_stop") is True
        assert dynamodb.count("DynamoDB_20120810.PutItem") == 2  # the write, and botocore's retry of it
        assert claims.claim("C0GENERAL1:1.000001:instance:ab12cd34:i-0abc:instances_stop") is False
        # The same for a decision on an approval request (UpdateItem).
        approvals = DynamoDBApprovals(idempotency_table)
        request = new_request(ANA, "/instances", "stop", "i-0abc", "db-1", CHANNEL)
        approvals.create(request)
        dynamodb.hold_answers["DynamoDB_20120810.UpdateItem"] = 1
        decision = approvals.decide(request.id, "approved", BOB)
        assert decision is not None and decision.won and decision.request.decided_by == BOB
        assert dynamodb.count("DynamoDB_20120810.UpdateItem") == 2
        second = approvals.decide(request.id, "denied", CAROL)
        assert second is not None and not second.won and second.request.status == "approved"
    aws_clients.reset()


@pytest.mark.parametrize("payload_type", ["interactive_message", "dialog_submission"])
def test_a_legacy_payload_naming_a_button_by_callback_id_meets_the_policy(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, payload_type: str
) -> None:
    # Bolt's app.action("instances_approve") also matches these payloads by their callback_id; the policy
    # must see them as the click they would be routed as, not wave them through as "not a button".
    request = ask_to_stop_db(workspace, fleet)
    started = len(workspace.lambda_api.invocations)
    response_url = workspace.slack.new_response_url(channel=CHANNEL, message_ts=request["ts"], user=GUEST)
    payload = {
        "type": payload_type,
        "callback_id": "instances_approve",
        "team": {"id": sr.TEAM_ID, "domain": "example"},
        "channel": {"id": CHANNEL, "name": "general"},
        "user": {"id": GUEST, "name": "guest"},
        "action_ts": f"{time.time():.6f}",
        "message_ts": request["ts"],
        "actions": [{"name": "approve", "type": "button", "value": "approve"}],
        "submission": {},
        "response_url": response_url,
    }
    response = workspace.invoke(signed(sr.interactive_body(payload)))
    assert response["statusCode"] == 200
    assert len(workspace.lambda_api.invocations) == started  # no listener started
    assert any("is for approvers and admins" in t for t in workspace.private_to(GUEST))
    refused = [r for r in workspace.audit.recent() if r["decision"] == "refused" and r["user"] == GUEST]
    assert [(r["command"], r["action"], r["target"]) for r in refused] == [
        ("/instances", "approve", "instances_approve")
    ]
    assert state_of(aws_endpoint, fleet["db-1"]) == "running"


# -- a lazy run that dies after winning, before acting ------------------------------------------------


def _crash_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """The instances module's `name` raises once (the run dies there: a timeout, an OOM kill), then works."""
    from bolt_app.listeners import instances

    real, crashed = getattr(instances, name), []

    def dying(*args: Any, **kwargs: Any) -> Any:
        if not crashed:
            crashed.append(name)
            raise RuntimeError("the container died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(instances, name, dying)
    return crashed


def test_an_approval_whose_run_died_before_acting_is_carried_out_by_lambdas_retry_once(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolt_app.aws_lambda.lazy_listeners import LazyWorkFailed

    request = ask_to_stop_db(workspace, fleet)
    crashed = _crash_once(monkeypatch, "read_instance")  # after the decision is won, before StopInstances
    approve = sr.button_click(request["blocks"], "instances_approve")
    assert workspace.invoke(workspace.click_event(BOB, request, approve))["statusCode"] == 200
    [lazy] = _lazy_payloads(workspace)
    with pytest.raises(LazyWorkFailed):
        workspace.invoke(json.loads(json.dumps(lazy)))
    assert crashed and state_of(aws_endpoint, fleet["db-1"]) == "running"
    # Lambda retries the same event: the approval is this delivery's and has not been carried out.
    workspace.invoke(json.loads(json.dumps(lazy)))
    assert state_of(aws_endpoint, fleet["db-1"]) in ("stopping", "stopped")
    line = f"<@{ANA}> stopped *db-1* ({fleet['db-1']}), approved by <@{BOB}>: running → stopping"
    assert workspace.public_lines().count(line) == 1
    assert not [t for t in workspace.private_to(BOB) if "already approved" in t]
    # Another retry, and the approver's second click, act no more.
    workspace.invoke(json.loads(json.dumps(lazy)))
    workspace.click(BOB, request, "instances_approve")
    assert any("already approved" in t for t in workspace.private_to(BOB))
    assert workspace.public_lines().count(line) == 1
    decisions = [r["decision"] for r in workspace.audit.recent() if r["target"] == fleet["db-1"]]
    assert decisions.count("approved") == 1 and decisions.count("executed") == 1, decisions


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_only_the_approving_delivery_resumes_an_approval_and_only_until_it_ran(
    aws_endpoint: str, idempotency_table: str, store: str
) -> None:
    from bolt_app.chatops.approvals import DynamoDBApprovals, InMemoryApprovals, new_request

    approvals = DynamoDBApprovals(idempotency_table) if store == "dynamodb" else InMemoryApprovals()
    request = new_request(ANA, "/instances", "stop", "i-0abc", "db-1", CHANNEL)
    approvals.create(request)
    first = approvals.decide(request.id, "approved", BOB, delivery="d1")
    assert first is not None and first.won and not first.resumed
    again = approvals.decide(request.id, "approved", BOB, delivery="d1")
    assert again is not None and again.won and again.resumed  # Lambda's retry of the run that approved it
    for other in (
        approvals.decide(request.id, "approved", BOB, delivery="d2"),  # BOB's second click
        approvals.decide(request.id, "approved", CAROL, delivery="d1"),
        approvals.decide(request.id, "denied", BOB, delivery="d1"),
        approvals.decide(request.id, "approved", BOB),
    ):
        assert other is not None and not other.won
    approvals.mark_executed(request.id)
    done = approvals.decide(request.id, "approved", BOB, delivery="d1")
    assert done is not None and not done.won and done.request.executed_at is not None
    aws_clients.reset()


def test_a_click_whose_run_died_after_its_claim_is_carried_out_by_lambdas_retry_once(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolt_app.aws_lambda.lazy_listeners import LazyWorkFailed

    workspace.command(ANA)
    listing = workspace.list_message()
    crashed = _crash_once(monkeypatch, "change_state")  # the claim is won; StopInstances is never called
    action = sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}")
    assert workspace.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    [lazy] = _lazy_payloads(workspace)
    with pytest.raises(LazyWorkFailed):
        workspace.invoke(json.loads(json.dumps(lazy)))
    assert crashed and state_of(aws_endpoint, fleet["web-1"]) == "running"
    workspace.invoke(json.loads(json.dumps(lazy)))  # Lambda's retry of the same event
    assert state_of(aws_endpoint, fleet["web-1"]) in ("stopping", "stopped")
    line = f"<@{ANA}> stopped *web-1* ({fleet['web-1']}): running → stopping"
    assert workspace.public_lines().count(line) == 1
    assert not [t for t in workspace.private_to(ANA) if "already handled" in t]
    # A later retry of it, and a double click (another delivery) on the same rendered button, act no more.
    workspace.invoke(json.loads(json.dumps(lazy)))
    assert workspace.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    workspace.run_lazy()
    assert workspace.public_lines().count(line) == 1
    assert [t for t in workspace.private_to(ANA) if "already handled" in t]


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_only_the_claiming_delivery_resumes_a_claim_and_only_until_it_is_done(
    aws_endpoint: str, idempotency_table: str, store: str
) -> None:
    from bolt_app.chatops.claims import DynamoDBClickClaims, InMemoryClickClaims

    claims = DynamoDBClickClaims(idempotency_table) if store == "dynamodb" else InMemoryClickClaims()
    key = f"{CHANNEL}:{time.time():.6f}:instance:ab12:instances_stop:i-0abc"
    assert claims.claim(key, "d1") is True
    assert claims.claim(key, "d1") is True  # the same delivery, its run ended before handling it
    assert claims.claim(key, "d2") is False and claims.claim(key) is False
    claims.done(key)
    assert claims.claim(key, "d1") is False
    aws_clients.reset()


def test_a_run_that_died_right_after_ec2_answered_is_not_acted_on_again(
    workspace: Workspace, fleet: dict[str, str], aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolt_app.aws_lambda.lazy_listeners import LazyWorkFailed

    # A plain click, then an approved request: each run dies just after StopInstances answered.
    workspace.command(ANA)
    listing = workspace.list_message()
    _crash_once(monkeypatch, "instance_changed")
    action = sr.button_click(listing["blocks"], f"instances_stop:{fleet['web-1']}")
    assert workspace.invoke(workspace.click_event(ANA, listing, action))["statusCode"] == 200
    [click_run] = _lazy_payloads(workspace)
    with pytest.raises(LazyWorkFailed):
        workspace.invoke(json.loads(json.dumps(click_run)))
    workspace.invoke(json.loads(json.dumps(click_run)))  # Lambda's retry

    request = ask_to_stop_db(workspace, fleet)
    _crash_once(monkeypatch, "instance_changed")
    approve = sr.button_click(request["blocks"], "instances_approve")
    assert workspace.invoke(workspace.click_event(BOB, request, approve))["statusCode"] == 200
    [approval_run] = _lazy_payloads(workspace)
    with pytest.raises(LazyWorkFailed):
        workspace.invoke(json.loads(json.dumps(approval_run)))
    workspace.invoke(json.loads(json.dumps(approval_run)))

    executed = [r["target"] for r in workspace.audit.recent() if r["decision"] == "executed"]
    assert sorted(executed) == sorted([fleet["web-1"], fleet["db-1"]])
    assert state_of(aws_endpoint, fleet["web-1"]) in ("stopping", "stopped")
    assert state_of(aws_endpoint, fleet["db-1"]) in ("stopping", "stopped")
