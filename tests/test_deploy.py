"""Offline deploy checks: the template as SAM and CloudFormation see it, and the `sam build` artifact.

The SAM CLI and cfn-lint live in their own virtualenv (DEPLOY_BIN, set by `make test`); no AWS
account is needed: the commands get a dummy region and credentials and never call AWS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.artifact import find_python313
from bench.lambda_runtime import LambdaEnvironment, runtime_dir
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
FUNCTION = "SlackBotFunction"
ROUTES = {"/slack/events"}
# Packages the Lambda python3.13 runtime provides; the artifact must not ship them.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six")
DEV_ONLY = ("pytest", "_pytest", "moto", "hypothesis", "ruff", "starlette", "uvicorn", "samcli", "cfnlint", "tests")


def _deploy_bin() -> Path:
    configured = os.environ.get("DEPLOY_BIN")
    path = Path(configured) if configured else ROOT / ".venv-deploy" / "bin"
    if not (path / "sam").exists():
        message = f"the SAM CLI is not installed in {path}: run `make test` (or `make deploy-tools`)"
        if os.environ.get("CI") == "true" or configured:
            pytest.fail(message)
        pytest.skip(message)
    return path


def _python313() -> str:
    """The interpreter the build compiles with (the same lookup as the Makefile's)."""
    found = find_python313()
    if found:
        return found
    message = "no python3.13: the Lambda build compiles its bytecode with it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _aws_env() -> dict[str, str]:
    # The SAM CLI wants a region and credentials to exist even for offline commands; they are never used.
    return {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
    }


def _run(argv: list[str], *, timeout: int = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=_aws_env(), capture_output=True, text=True, timeout=timeout, **kwargs)


def _transform(deploy_bin: Path, template: Path) -> dict[str, Any]:
    out = _run([str(deploy_bin / "python"), str(ROOT / "tools" / "sam_transform.py"), str(template)])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _cfn_lint(deploy_bin: Path, template: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(template, indent=1))
    return _run([str(deploy_bin / "cfn-lint"), str(path)])


# -- the template -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy_bin() -> Path:
    return _deploy_bin()


@pytest.fixture(scope="module")
def cfn(deploy_bin: Path) -> dict[str, Any]:
    """template.yaml after the SAM transform: what CloudFormation deploys."""
    return _transform(deploy_bin, ROOT / "template.yaml")


def test_sam_validate_lint(deploy_bin: Path) -> None:
    out = _run([str(deploy_bin / "sam"), "validate", "--lint", "--template-file", "template.yaml"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is a valid SAM Template" in out.stdout + out.stderr
    # The SAM CLI takes any manifest.json in the working directory for a CDK app's (and says so on
    # every validate, package, deploy and sync): the Slack app manifest lives in slack/ instead.
    assert "CDK" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert not (ROOT / "manifest.json").exists()


def test_transformed_template_passes_cfn_lint(deploy_bin: Path, cfn: dict[str, Any], tmp_path: Path) -> None:
    out = _cfn_lint(deploy_bin, cfn, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cfn_lint_catches_a_circular_dependency(deploy_bin: Path, tmp_path: Path) -> None:
    """The check above can fail: a role policy naming its own function is a cycle (function -> role -> function)."""
    out = _run([str(deploy_bin / "python"), "-c", _BREAK_TEMPLATE, str(tmp_path / "broken.yaml")])
    assert out.returncode == 0, out.stderr
    lint = _cfn_lint(deploy_bin, _transform(deploy_bin, tmp_path / "broken.yaml"), tmp_path)
    assert lint.returncode != 0
    assert "E3004" in lint.stdout, lint.stdout


def _serverless_lint(deploy_bin: Path, template: Path) -> subprocess.CompletedProcess[str]:
    return _run([str(deploy_bin / "cfn-lint"), str(template), "--append-rules", "cfn_lint_serverless.rules"])


def test_template_passes_aws_serverless_rules(deploy_bin: Path) -> None:
    """AWS's serverless rules (cfn-lint-serverless); rules that cannot apply are ignored in the template, with why."""
    out = _serverless_lint(deploy_bin, ROOT / "template.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_serverless_rules_catch_an_unlogged_unthrottled_api(deploy_bin: Path, tmp_path: Path) -> None:
    """The check above can fail: the rules are loaded and read the HTTP API's settings."""
    broken = tmp_path / "unthrottled.yaml"
    out = _run([str(deploy_bin / "python"), "-c", _UNTHROTTLED_TEMPLATE, str(broken)])
    assert out.returncode == 0, out.stderr
    lint = _serverless_lint(deploy_bin, broken)
    assert lint.returncode != 0
    assert "ES2000" in lint.stdout and "ES2003" in lint.stdout, lint.stdout


_UNTHROTTLED_TEMPLATE = """
import sys
from samcli.yamlhelper import yaml_dump, yaml_parse
template = yaml_parse(open("template.yaml").read())
template["Resources"]["SlackHttpApi"].pop("Properties")
open(sys.argv[1], "w").write(yaml_dump(template))
"""


_BREAK_TEMPLATE = """
import sys
from samcli.yamlhelper import yaml_dump, yaml_parse
template = yaml_parse(open("template.yaml").read())
statements = template["Resources"]["SlackBotFunction"]["Properties"]["Policies"][0]["Statement"]
own_arn = {"Fn::GetAtt": ["SlackBotFunction", "Arn"]}
statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": own_arn})
open(sys.argv[1], "w").write(yaml_dump(template))
"""


def _resources(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in cfn["Resources"].items() if r["Type"] == kind}


def test_function(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"][FUNCTION]["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "SlackBotLogGroup"}
    # Long enough for a cold start past Slack's 3 s to finish its one reply, short enough to fail fast.
    assert 3 < props["Timeout"] <= 30
    env = props["Environment"]["Variables"]
    assert env["SLACK_SECRET_ARN"] == {"Ref": "SlackSecret"}
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["POWERTOOLS_METRICS_NAMESPACE"]
    assert env["POWERTOOLS_SERVICE_NAME"]
    assert env["STACK_NAME"] == {"Ref": "AWS::StackName"}  # /stack-status reports on this stack
    # The command policy's admins from the ChatOpsAdmins parameter; the audit trail's own group.
    assert env["CHATOPS_ADMINS"] == {"Ref": "ChatOpsAdmins"}
    assert env["AUDIT_LOG_GROUP"] == {"Ref": "AuditLogGroup"}
    # Named after the stack: the role can then name it without a function -> role -> function cycle.
    assert props["FunctionName"] == {"Ref": "AWS::StackName"}
    # Tokens come from the secret only; nothing secret sits in the function's configuration.
    assert not {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} & set(env)
    assert "SlackBotToken" not in json.dumps(props) and "SlackSigningSecret" not in json.dumps(props)
    assert len(_resources(cfn, "AWS::Lambda::Function")) == 1


def test_role_is_least_privilege(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"][cfn["Resources"][FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert sorted(role["ManagedPolicyArns"]) == [
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    # /instances: DescribeInstances has no resource-level permissions ("*"); start and stop only instances
    # tagged ChatOps=enabled, in this account and region.
    ec2 = sorted((s for s in statements if "ec2:" in json.dumps(s["Action"])), key=lambda s: json.dumps(s["Action"]))
    statements = [s for s in statements if s not in ec2]
    own_instances = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"
    assert ec2 == [
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["ec2:StartInstances", "ec2:StopInstances"],
            "Resource": {"Fn::Sub": own_instances},
            "Condition": {"StringEquals": {"aws:ResourceTag/ChatOps": "enabled"}},
        },
    ]
    grants = {json.dumps(s["Resource"], sort_keys=True): s for s in statements}
    assert all(s["Effect"] == "Allow" for s in statements)
    own_function = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}"
    own_stack = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*"
    lazy_grants = {
        # Lazy listeners invoke this function (and its versions and aliases) only.
        json.dumps([{"Fn::Sub": own_function}, {"Fn::Sub": own_function + ":*"}]): "lambda:InvokeFunction",
        json.dumps({"Fn::Sub": own_stack}): "cloudformation:DescribeStacks",
        # GetMetricData has no resource-level permissions: "*" is the only form IAM accepts.
        json.dumps("*"): "cloudwatch:GetMetricData",
        # Added by SAM for the on-failure destination of asynchronous invocations.
        json.dumps({"Fn::GetAtt": ["LazyWorkFailureQueue", "Arn"]}): "sqs:SendMessage",
    }
    for resource, action in lazy_grants.items():
        assert grants.pop(resource)["Action"] in (action, [action]), action
    # The audit trail: append and read back in its own group, nothing else there (no delete, no retention
    # or policy change), so the bot cannot rewrite history.
    audit_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${AuditLogGroup}"
    audit = grants.pop(json.dumps([{"Fn::GetAtt": ["AuditLogGroup", "Arn"]}, {"Fn::Sub": audit_group}]))
    assert sorted(audit["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
        "logs:PutLogEvents",
    ]
    statements = [s for s in statements if json.dumps(s["Resource"], sort_keys=True) in grants]
    assert set(grants) == {
        json.dumps({"Ref": "SlackSecret"}),
        json.dumps({"Fn::GetAtt": ["IdempotencyTable", "Arn"]}),
    }
    secret = grants[json.dumps({"Ref": "SlackSecret"})]
    assert secret["Action"] in ("secretsmanager:GetSecretValue", ["secretsmanager:GetSecretValue"])
    table = grants[json.dumps({"Fn::GetAtt": ["IdempotencyTable", "Arn"]})]
    assert sorted(table["Action"]) == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    assert "*" not in json.dumps(statements)


def test_lazy_invocations_that_fail_are_kept_in_a_queue(cfn: dict[str, Any]) -> None:
    (config,) = _resources(cfn, "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": FUNCTION}
    # On the alias API Gateway invokes, which is what the self-invocation targets too
    # (context.invoked_function_arn carries the alias): the retries and the queue apply to lazy work.
    assert props["Qualifier"] == "live"
    assert props["MaximumRetryAttempts"] == 2
    # No older than the response_url it would answer (Slack: 30 minutes).
    assert props["MaximumEventAgeInSeconds"] == 1800
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["LazyWorkFailureQueue", "Arn"]}
    queue = cfn["Resources"]["LazyWorkFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert cfn["Outputs"]["LazyWorkFailureQueueUrl"]["Value"] == {"Ref": "LazyWorkFailureQueue"}


def test_secret_is_built_from_noecho_parameters(cfn: dict[str, Any]) -> None:
    params = cfn["Parameters"]
    assert params["SlackBotToken"]["NoEcho"] is True
    assert params["SlackSigningSecret"]["NoEcho"] is True
    assert "Default" not in params["SlackBotToken"] and "Default" not in params["SlackSigningSecret"]
    (secret,) = _resources(cfn, "AWS::SecretsManager::Secret").values()
    template_string = secret["Properties"]["SecretString"]["Fn::Sub"]
    filled = template_string.replace("${SlackBotToken}", "xoxb-1").replace("${SlackSigningSecret}", "abc")
    assert json.loads(filled) == {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"}
    # Parameters only where a user would really change something.
    assert set(params) == {
        "SlackBotToken",
        "SlackSigningSecret",
        "LogLevel",
        "LogRetentionInDays",
        "AlarmEmail",
        "SnapStart",
        "AlertsChannel",
        "DigestSchedule",
        "ChatOpsAdmins",
        "AuditLogRetentionInDays",
    }


def test_idempotency_table_has_powertools_schema(cfn: dict[str, Any]) -> None:
    (table,) = _resources(cfn, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def _resolve_conditions(value: Any, conditions: dict[str, bool]) -> Any:
    """Fn::If and AWS::NoValue resolved as CloudFormation would, for the given condition values."""
    if isinstance(value, dict):
        if "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return _resolve_conditions(when_true if conditions[name] else when_false, conditions)
        resolved = {k: _resolve_conditions(v, conditions) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(value, list):
        return [_resolve_conditions(v, conditions) for v in value]
    return value


@pytest.mark.parametrize("switch", ["On", "Off"])
def test_snapstart_switch(deploy_bin: Path, tmp_path: Path, switch: str) -> None:
    """Both values of the SnapStart parameter, as the default, through the transform and cfn-lint;
    API Gateway invokes the `live` alias (snapshots exist only for published versions)."""
    text = (ROOT / "template.yaml").read_text()
    block = text[text.index("  SnapStart:\n    Type: String") :]
    assert 'Default: "Off"' in block.split("\n\n")[0], "SnapStart is off unless turned on"
    variant = tmp_path / "template.yaml"
    variant.write_text(text.replace(block, block.replace('Default: "Off"', f'Default: "{switch}"', 1)))
    cfn = _transform(deploy_bin, variant)
    lint = _cfn_lint(deploy_bin, cfn, tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    assert cfn["Parameters"]["SnapStart"]["Default"] == switch
    assert cfn["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "On"]}
    props = _resolve_conditions(cfn["Resources"][FUNCTION]["Properties"], {"SnapStartOn": switch == "On"})
    if switch == "On":
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    else:
        assert "SnapStart" not in props
    ((alias_name, alias),) = _resources(cfn, "AWS::Lambda::Alias").items()
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": FUNCTION}
    (version_name,) = _resources(cfn, "AWS::Lambda::Version")
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_name, "Version"]}
    (api,) = _resources(cfn, "AWS::ApiGatewayV2::Api").values()
    for path in ROUTES:
        uri = api["Properties"]["Body"]["paths"][path]["post"]["x-amazon-apigateway-integration"]["uri"]
        assert "${" + alias_name + "}" in uri["Fn::Sub"], uri
    for permission in _resources(cfn, "AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_name}


def test_log_group_has_retention(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["SlackBotLogGroup"]["Properties"]
    assert props["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    retention = cfn["Parameters"]["LogRetentionInDays"]
    assert retention["Default"] in retention["AllowedValues"]


def test_the_audit_trail_has_its_own_group_kept_a_year_by_default(cfn: dict[str, Any]) -> None:
    group = cfn["Resources"]["AuditLogGroup"]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "AuditLogRetentionInDays"}
    assert cfn["Parameters"]["AuditLogRetentionInDays"]["Default"] == 365
    # Deleting the stack leaves the record of who did what.
    assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"
    assert cfn["Outputs"]["AuditLogGroupName"]["Value"] == {"Ref": "AuditLogGroup"}


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("U0ADMIN001", True),
        ("U0ADMIN001,W0ADMIN002", True),
        ("U0A1, U0B2", True),
        ("ana", False),
        ("U0A1;U0B2", False),
        ("u0admin001", False),
    ],
)
def test_chatops_admins_takes_comma_separated_user_ids(cfn: dict[str, Any], value: str, accepted: bool) -> None:
    import re

    parameter = cfn["Parameters"]["ChatOpsAdmins"]
    assert parameter["Default"] == ""
    # CloudFormation matches AllowedPattern against the whole value.
    assert (re.fullmatch(parameter["AllowedPattern"], value) is not None) is accepted


def test_http_api_routes(cfn: dict[str, Any]) -> None:
    (api,) = _resources(cfn, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == ROUTES
    for path in ROUTES:
        assert set(paths[path]) == {"post"}, path
        integration = paths[path]["post"]["x-amazon-apigateway-integration"]
        assert FUNCTION in json.dumps(integration["uri"])
        assert integration["payloadFormatVersion"] == "2.0"
    # One per route, plus the alerts channel's two (SNS and EventBridge), which exist only with AlertsChannel.
    permissions = _resources(cfn, "AWS::Lambda::Permission")
    unconditional = [p for p in permissions.values() if p.get("Condition") != "HasAlertsChannel"]
    assert len(unconditional) == len(ROUTES)
    assert len(permissions) == len(ROUTES) + 2


def test_http_api_logs_every_request_as_json_and_is_throttled(cfn: dict[str, Any]) -> None:
    (stage,) = _resources(cfn, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    logs = props["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["SlackApiAccessLogGroup", "Arn"]}
    fields = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", logs["Format"]))
    assert {"requestId", "status", "routeKey", "errorType", "integrationError"} <= set(fields)
    # Context variables only: no header (the signature) and no body (message text).
    assert "header" not in logs["Format"].lower() and "body" not in logs["Format"].lower()
    access_group = cfn["Resources"]["SlackApiAccessLogGroup"]["Properties"]
    assert access_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert access_group["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/")
    throttle = props["DefaultRouteSettings"]
    # Sized for a Slack bot (README, "Operate"): above Slack's own ceiling of ~8 events/s per workspace,
    # far below the account's 10,000/s that a flood would otherwise reach.
    assert 8 <= throttle["ThrottlingRateLimit"] <= 100
    assert throttle["ThrottlingRateLimit"] <= throttle["ThrottlingBurstLimit"] <= 500


def test_alarms_reach_the_alarm_topic(cfn: dict[str, Any]) -> None:
    from bolt_app.foundation.observability import Metric

    resources = cfn["Resources"]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    # The e-mail subscription exists only when AlarmEmail is given.
    assert cfn["Parameters"]["AlarmEmail"]["Default"] == ""
    assert cfn["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    [subscription] = [
        s for s in _resources(cfn, "AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "email"
    ]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }

    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in _resources(cfn, "AWS::CloudWatch::Alarm").values()
    }
    env = resources[FUNCTION]["Properties"]["Environment"]["Variables"]
    namespace = env["POWERTOOLS_METRICS_NAMESPACE"]
    assert {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), (namespace, Metric.SLACK_API_ERRORS.value)} <= set(
        alarms
    )
    assert (namespace, Metric.AUDIT_WRITE_FAILURES.value) in alarms
    audit_failures = alarms[(namespace, Metric.AUDIT_WRITE_FAILURES.value)]
    assert audit_failures["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] >= 1
        assert alarm["TreatMissingData"] == "notBreaching"
    for metric in ("Errors", "Throttles"):
        assert alarms[("AWS/Lambda", metric)]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    # Powertools Metrics puts one dimension on every metric: service = POWERTOOLS_SERVICE_NAME
    # (tests/test_metrics.py checks the EMF output). The alarm must name the same value.
    slack_errors = alarms[(namespace, Metric.SLACK_API_ERRORS.value)]
    assert slack_errors["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    # Slack dropped events (app_rate_limited): the bot's own metric, the same dimension.
    rate_limited = alarms[(namespace, Metric.APP_RATE_LIMITED.value)]
    assert rate_limited["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    # A slow command whose work Lambda gave up on sits in the failure queue: someone got no answer.
    failed_lazy_work = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert failed_lazy_work["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["LazyWorkFailureQueue", "QueueName"]}}
    ]


def test_outputs(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    assert {"SlackRequestUrl", "FunctionName", "SlackSecretArn"} <= set(outputs)
    url = outputs["SlackRequestUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${SlackHttpApi}.execute-api.") and url.endswith("/slack/events")
    assert outputs["FunctionName"]["Value"] == {"Ref": FUNCTION}
    assert outputs["SlackSecretArn"]["Value"] == {"Ref": "SlackSecret"}
    assert "SlackBotToken" not in json.dumps(outputs) and "SlackSigningSecret" not in json.dumps(outputs)


def test_samconfig() -> None:
    text = (ROOT / "samconfig.toml").read_text()
    config = tomllib.loads(text)["default"]
    assert config["global"]["parameters"]["stack_name"]
    region = config["global"]["parameters"]["region"]
    deploy = config["deploy"]["parameters"]
    # One region: a deploy-only one would send `sam logs` and `sam list stack-outputs` elsewhere.
    assert deploy.get("region", region) == region
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    # No secret values: the NoEcho parameters are never given here.
    assert "SlackBotToken" not in deploy.get("parameter_overrides", "")
    assert "SlackSigningSecret" not in deploy.get("parameter_overrides", "")
    assert "xoxb-" not in text and "xapp-" not in text
    # The makefile build runs in the checkout (no copy of the virtualenvs to a scratch dir).
    assert config["build"]["parameters"]["build_in_source"] is True


@pytest.mark.parametrize("command", [["list", "stack-outputs"], ["logs"]])
def test_every_sam_command_reads_the_stacks_region_from_samconfig(deploy_bin: Path, command: list[str]) -> None:
    # The README's Operate commands, run with no region anywhere but samconfig.toml. They get as far as
    # calling AWS, pointed at a closed port on this machine (nothing leaves it).
    env = {k: v for k, v in _aws_env().items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_ENDPOINT_URL="http://127.0.0.1:9/", AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(
        [str(deploy_bin / "sam"), *command, "--debug"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    output = out.stdout + out.stderr
    region = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["global"]["parameters"]["region"]
    assert "No region information found" not in output
    [config_line] = [line for line in output.splitlines() if "Configuration values are:" in line]
    assert f"'region': '{region}'" in config_line
    assert "Could not connect to the endpoint URL" in output


def test_guided_deploy_asks_about_authentication_once() -> None:
    """`sam deploy --guided` asks "<function> has no authentication. Is this okay? [y/N]" per API route,
    and N (the default) aborts. Slack's request signature is the authentication (README, Deploy): one route,
    one question. Counted by the SAM CLI's own check."""
    code = (
        "import json, sys\n"
        "from samcli.commands.deploy.auth_utils import auth_per_resource\n"
        "from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider\n"
        "region = {'AWS::Region': 'us-east-1'}\n"
        "stacks, _ = SamLocalStackProvider.get_stacks('template.yaml', global_parameter_overrides=region)\n"
        "print(json.dumps(auth_per_resource(stacks)))\n"
    )
    out = _run([str(_deploy_bin() / "python"), "-c", code])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[FUNCTION, False]]


# -- the lock: what ships to Lambda ----------------------------------------------------------


def _canonical(name: str) -> str:
    """PEP 503's normalised project name: Slack_Bolt, slack.bolt and slack-bolt are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[^=\s]+", line), f"requirements.txt: {line!r} is not name==version"
            name, version = line.split("==")
            pins[_canonical(name)] = version
    return pins


def _locked() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock as {name: (version, [sha256 hashes])}; fails on an entry that is not pinned and hashed."""
    text = (ROOT / "requirements.lock").read_text()
    # pip's requirement-file syntax: a trailing backslash continues the line.
    entries = [e.strip() for e in re.sub(r"\\\n", " ", text).splitlines()]
    locked: dict[str, tuple[str, list[str]]] = {}
    for entry in entries:
        if not entry or entry.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", entry)
        assert match, f"requirements.lock: {entry!r} is not pinned (==) with sha256 hashes"
        hashes = re.findall(r"sha256:([0-9a-f]{64})", match.group(3))
        locked[_canonical(match.group(1))] = (match.group(2), hashes)
    return locked


def test_the_lock_matches_requirements_txt() -> None:
    # `make lock` regenerates it; CI fails here when requirements.txt moved and the lock did not.
    locked = _locked()
    for name, version in _top_level_pins().items():
        assert name in locked, f"{name} is in requirements.txt but not in requirements.lock: run `make lock`"
        assert locked[name][0] == version, (
            f"{name}: requirements.txt pins {version}, requirements.lock {locked[name][0]}: run `make lock`"
        )
    # Transitive dependencies are locked too (the reason for the lock), and never what the runtime provides.
    assert {"jmespath", "typing-extensions"} <= set(locked), sorted(locked)
    assert not set(locked) & {_canonical(name) for name in RUNTIME_PROVIDED}, sorted(locked)


def test_the_build_refuses_a_file_whose_hash_is_not_the_locked_one(deploy_bin: Path, tmp_path: Path) -> None:
    # The Makefile's build installs with --require-hashes from the lock: one wrong hash stops it.
    _python313()
    lock = (ROOT / "requirements.lock").read_text()
    version, hashes = _locked()["typing-extensions"]
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(re.sub("|".join(hashes), "0" * 64, lock))
    out = _run(
        [
            "make",
            "--no-print-directory",
            "build-SlackBotFunction",
            f"ARTIFACTS_DIR={tmp_path / 'artifact'}",
            f"LOCK={tampered}",
            f"DEPLOY_VENV={deploy_bin.parent}",
        ],
        timeout=600,
    )
    assert out.returncode != 0, out.stdout + out.stderr
    assert "DO NOT MATCH THE HASHES" in out.stderr, out.stderr
    assert f"typing_extensions-{version}" in out.stderr or f"typing-extensions=={version}" in out.stderr


# -- the artifact -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifact(deploy_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`sam build` as a user runs it (samconfig.toml applies), into a temporary build directory."""
    _python313()  # a clear failure first if the build cannot compile its bytecode
    build_dir = tmp_path_factory.mktemp("sam-build")
    out = _run([str(deploy_bin / "sam"), "build", "--build-dir", str(build_dir)], timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Build Succeeded" in out.stdout
    # The built template, which `sam deploy` packages, points CodeUri at the artifact directory.
    code_uris = [
        line.split(":", 1)[1].strip()
        for line in (build_dir / "template.yaml").read_text().splitlines()
        if line.strip().startswith("CodeUri:")
    ]
    assert code_uris == [FUNCTION]
    yield build_dir / FUNCTION


def _top_level(artifact: Path) -> set[str]:
    return {p.name for p in artifact.iterdir()}


def test_artifact_holds_only_what_runs_on_lambda(artifact: Path) -> None:
    top = _top_level(artifact)
    assert {"handler.py", "bolt_app", "slack_bolt", "slack_sdk", "aws_lambda_powertools", "mangum"} <= top
    # The command policy ships with the function (read from /var/task/policy.toml), as reviewed.
    assert (artifact / "policy.toml").read_bytes() == (ROOT / "policy.toml").read_bytes()
    assert not {name for name in top if name.split("-")[0] in RUNTIME_PROVIDED}, top
    assert not {name for name in top if name.split("-")[0].lower() in DEV_ONLY}, top
    assert not (artifact / "bolt_app" / "local").exists()
    assert not (artifact / "bolt_app" / "__main__.py").exists()
    # Only the sources, their bytecode and package metadata: no repo files, no virtualenvs.
    repo_files = {"template.yaml", "samconfig.toml", "Makefile", "manifest.json", "tools", ".venv", "requirements.txt"}
    repo_files |= {"requirements.lock"}
    assert not top & repo_files
    # slack_sdk's wheel has a top-level `slack` package of its own; the app manifest must not be in it.
    assert not (artifact / "slack" / "manifest.json").exists()
    bolt_files = sorted(str(p.relative_to(artifact)) for p in (artifact / "bolt_app").rglob("*.py"))
    assert bolt_files == sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "bolt_app").rglob("*.py")
        if "local" not in p.relative_to(ROOT).parts and p.name != "__main__.py"
    )


def test_artifact_dependencies_are_exactly_the_lock(artifact: Path) -> None:
    # Every distribution in the artifact is a locked one at its locked version, and every locked one is
    # there: nothing floats, nothing extra (pip's --require-hashes already refused any file whose hash differs).
    installed = dict(
        (_canonical(name), version)
        for name, version in (p.name.removesuffix(".dist-info").rsplit("-", 1) for p in artifact.glob("*.dist-info"))
    )
    assert installed == {name: version for name, (version, _) in _locked().items()}
    for name, version in _top_level_pins().items():
        assert installed.get(name) == version, (name, installed)


def test_every_module_has_python313_bytecode_that_skips_the_source_check(artifact: Path) -> None:
    sources = [p for p in artifact.rglob("*.py")]
    assert len(sources) > 300
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert pyc.is_file(), f"no 3.13 bytecode for {source.relative_to(artifact)}"
        header = pyc.read_bytes()[:8]
        # PEP 552 flags: 0b01 = hash-based, not checked against the source (read-only /var/task, zip mtimes).
        assert int.from_bytes(header[4:8], "little") == 0b01, source
    stray = [p for p in artifact.rglob("*.pyc") if ".cpython-313." not in p.name]
    assert stray == []


def test_bytecode_is_used_after_a_zip_round_trip(artifact: Path, tmp_path: Path) -> None:
    """Unzipped on Lambda, sources get new mtimes and the directory is read-only: the .pyc must still load."""
    copy_dir = tmp_path / "task"
    shutil.copytree(artifact, copy_dir)
    for source in copy_dir.rglob("*.py"):
        os.utime(source, (1_000_000_001, 1_000_000_001))  # an odd second: zip keeps only even ones
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(copy_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    code = "import bolt_app, slack_bolt, slack_sdk.web, aws_lambda_powertools.logging, mangum"
    out = subprocess.run([_python313(), "-s", "-v", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = [
        line for line in out.stderr.splitlines() if line.startswith("# code object from") and str(copy_dir) in line
    ]
    from_source = [line for line in loaded if not line.rstrip("'").endswith(".pyc")]
    assert len(loaded) > 100
    assert from_source == []


def test_artifact_size(artifact: Path, tmp_path: Path) -> None:
    files = [p for p in artifact.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    archive = tmp_path / "artifact.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in files:
            zf.write(p, p.relative_to(artifact))
    zipped = archive.stat().st_size
    # Measured at 13 MB unzipped, 4 MB zipped; the X-Ray SDK or boto3 creeping in would add 20+ MB.
    assert unzipped < 25 * 2**20, unzipped
    assert zipped < 8 * 2**20, zipped
    # Lambda's hard limits, for the record: 250 MB unzipped, 50 MB zipped for a direct upload.
    assert unzipped < 250 * 2**20 and zipped < 50 * 2**20


# -- the artifact under Lambda's Runtime Interface Client ----------------------------------


@pytest.fixture(scope="module")
def lambda_runtime() -> Path:
    """awslambdaric and boto3 for python3.13, as Lambda's runtime has them (installed once, then cached)."""
    _python313()
    return runtime_dir(ROOT / "bench" / "results" / "cache")


def _run_lambda(artifact: Path, runtime: Path, tmp_path: Path, env: dict[str, str], handler: str = "handler.handler"):
    return LambdaEnvironment(artifact, runtime, env, handler=handler, python=_python313(), log=tmp_path / "log")


def _token_env(slack: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url}


def test_runtime_client_runs_handler_for_a_dm_and_a_url_verification(
    artifact: Path, lambda_runtime: Path, cfn: dict[str, Any], slack: FakeSlack, tmp_path: Path
) -> None:
    with _run_lambda(artifact, lambda_runtime, tmp_path, _token_env(slack)) as function:
        challenge = function.invoke(sr.signed_event(SIGNING_SECRET, sr.json_body(sr.url_verification("c-123"))))
        dm = function.invoke(sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("hi")))))
        peak_rss_mb = function.peak_rss_mb()
        assert function.api.init_error is None, function.output()
    assert challenge.outcome == "response" and challenge.body["statusCode"] == 200
    assert "c-123" in challenge.body["body"]
    assert dm.outcome == "response" and dm.body["statusCode"] == 200
    [call] = slack.calls_to("chat.postMessage")
    assert call.args["text"] == "Echo: hi"
    memory_size = cfn["Resources"][FUNCTION]["Properties"]["MemorySize"]
    # Headroom for the AWS clients; MemorySize is chosen for CPU, not RSS.
    assert peak_rss_mb is not None and peak_rss_mb * 2 < memory_size


def test_runtime_client_runs_asgi_handler_for_an_alb_event(
    artifact: Path, lambda_runtime: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("via alb"))), shape="alb")
    with _run_lambda(artifact, lambda_runtime, tmp_path, _token_env(slack), "handler.asgi_handler") as function:
        answer = function.invoke(event)
    assert answer.outcome == "response", function.output()
    assert answer.body["statusCode"] == 200 and answer.body["isBase64Encoded"] is False
    [call] = slack.calls_to("chat.postMessage")
    assert call.args["text"] == "Echo: via alb"


def test_runtime_client_without_configuration_inits_and_answers_500(
    artifact: Path, lambda_runtime: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    """No tokens: init succeeds (a crash there would only make Lambda retry init on every request), each
    request gets a clear 500 from the function, and one log line names what is missing."""
    event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("nobody home"))))
    with _run_lambda(artifact, lambda_runtime, tmp_path, {"SLACK_API_URL": slack.api_url}) as function:
        answer = function.invoke(event)
        output = function.output()
    assert function.api.init_error is None
    assert answer.outcome == "response" and answer.body["statusCode"] == 500
    assert "SLACK_BOT_TOKEN is not set" in output
    assert slack.calls == []


def test_runtime_client_reports_a_broken_entry_point_as_an_init_error(
    artifact: Path, lambda_runtime: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    with _run_lambda(artifact, lambda_runtime, tmp_path, _token_env(slack), "handler.no_such_entry") as function:
        error = function.api.wait_init_error(timeout=60)
        assert function.process is not None and function.process.wait(timeout=30) != 0
    assert error is not None, function.output()
    assert error["type"] == "Runtime.HandlerNotFound"
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert function.api.first_next_at is None  # never asked for an event


def test_runtime_client_snapstart_restores_and_answers_with_no_call_from_the_hooks(
    artifact: Path, lambda_runtime: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    """The deployed configuration in a SnapStart environment: the runtime client runs the before-snapshot
    hooks, waits on /restore/next, runs the after-restore hooks; every AWS and Slack call is init's or the DM's."""
    from bench.aws import CountingMoto, by_operation

    with CountingMoto() as aws:
        aws.provision(BOT_TOKEN, SIGNING_SECRET)
        env = {**aws.env(), "SLACK_API_URL": slack.api_url, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
        event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("restored"))))
        with _run_lambda(artifact, lambda_runtime, tmp_path, env) as function:
            answer = function.invoke(event)
            output = function.output()
        calls = by_operation(aws.calls)
    assert function.api.restore_next_at is not None, output
    assert answer.outcome == "response" and answer.body["statusCode"] == 200, output
    assert calls == {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 1, "secretsmanager.GetSecretValue": 1}
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: restored"]


def test_the_alerts_channel_is_wired_to_the_live_alias_only_when_set(cfn: dict[str, Any]) -> None:
    """AlertsChannel (docs/alerts.md): the function subscribed to its own AlarmTopic, this stack's deploys,
    the digest schedule; all invoking the `live` alias, whose EventInvokeConfig keeps what fails."""
    params, conditions, resources = cfn["Parameters"], cfn["Conditions"], cfn["Resources"]
    assert params["AlertsChannel"]["Default"] == "" and params["DigestSchedule"]["Default"] == ""
    assert conditions["HasAlertsChannel"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertsChannel"}, ""]}]}
    env = resources[FUNCTION]["Properties"]["Environment"]["Variables"]
    assert env["ALERTS_CHANNEL"] == {"Ref": "AlertsChannel"}
    ((alias_name, _),) = _resources(cfn, "AWS::Lambda::Alias").items()
    alias = {"Ref": alias_name}
    [sns] = [s for s in _resources(cfn, "AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "lambda"]
    assert sns["Condition"] == "HasAlertsChannel"
    assert sns["Properties"] == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "lambda", "Endpoint": alias}
    permissions = {p["Properties"]["Principal"]: p for p in _resources(cfn, "AWS::Lambda::Permission").values()}
    assert permissions["sns.amazonaws.com"]["Properties"]["SourceArn"] == {"Ref": "AlarmTopic"}
    assert permissions["events.amazonaws.com"]["Properties"]["SourceArn"] == {"Fn::GetAtt": ["DeployEventsRule", "Arn"]}
    assert all(
        p["Properties"]["FunctionName"] == alias for k, p in permissions.items() if k != "apigateway.amazonaws.com"
    )
    rule = resources["DeployEventsRule"]
    assert rule["Condition"] == "HasAlertsChannel"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation Stack Status Change"],
        "detail": {"stack-id": [{"Ref": "AWS::StackId"}]},
    }
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == alias
    schedule = resources["AlertsDigestSchedule"]
    assert schedule["Condition"] == "HasDigest"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "DigestSchedule"}
    from bolt_app.notifications.events import DIGEST_INPUT

    assert json.loads(schedule["Properties"]["Target"]["Input"]) == DIGEST_INPUT
    assert schedule["Properties"]["Target"]["Arn"] == alias
    undeliverable = resources["AlertsUndeliverableAlarm"]["Properties"]
    assert undeliverable["MetricName"] == "AlertsUndeliverable"
    assert undeliverable["AlarmActions"] == [{"Ref": "AlarmTopic"}]
