"""Configuration: one small typed object, read once from the environment."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# The command policy shipped with the function: policy.toml at the project root (on Lambda, /var/task).
DEFAULT_POLICY_FILE = str(Path(__file__).resolve().parents[1] / "policy.toml")


class ConfigError(Exception):
    """A required setting is missing; the message names the variable (never its value)."""


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str
    api_url: str = DEFAULT_SLACK_API_URL
    # Socket Mode only.
    app_token: str | None = None
    # Optional: lets Bolt drop the bot's own events without an auth.test round trip.
    bot_id: str | None = None
    bot_user_id: str | None = None
    # Exactly-once across containers: a DynamoDB table (Powertools' idempotency schema).
    idempotency_table: str | None = None
    # Where bot_token and signing_secret came from on Lambda; re-read when Slack says they changed.
    secret_arn: str | None = None
    # The command policy (bolt_app/chatops/): its file, and the user IDs CHATOPS_ADMINS adds to `admins`.
    policy_file: str = DEFAULT_POLICY_FILE
    chatops_admins: tuple[str, ...] = ()
    # The audit trail's CloudWatch Logs group; None: JSON log lines marked "audit": true (local runs).
    audit_log_group: str | None = None
    # The credentials in use: bot_token and signing_secret above are their values at start.
    credentials: SlackCredentials = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credentials", SlackCredentials(self.bot_token, self.signing_secret, self.secret_arn))

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"Settings(api_url={self.api_url!r}, socket_mode={self.app_token is not None})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, socket_mode: bool = False) -> Settings:
        """`socket_mode=True` (only `python -m bolt_app` with SLACK_APP_TOKEN) lets SLACK_SIGNING_SECRET be
        missing: Socket Mode requests come over Slack's WebSocket, never signed over HTTP. Everything that
        serves HTTP (Lambda, the local server) keeps requiring it: an empty secret would sign for anyone."""
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name} is not set")
            return value

        def optional(name: str) -> str | None:
            return env.get(name, "").strip() or None

        secret_arn = optional("SLACK_SECRET_ARN")
        if secret_arn:
            # On Lambda the credentials live in Secrets Manager, and the secret wins: a stale
            # SLACK_BOT_TOKEN left in the function's environment must not silently override it.
            env = {**env, **_read_slack_secret(secret_arn)}

        api_url = optional("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        bot_token = required("SLACK_BOT_TOKEN")
        signing_secret = (optional("SLACK_SIGNING_SECRET") or "") if socket_mode else required("SLACK_SIGNING_SECRET")
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            # slack_sdk joins base_url + method name: the trailing slash is required.
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            app_token=optional("SLACK_APP_TOKEN"),
            bot_id=optional("SLACK_BOT_ID"),
            bot_user_id=optional("SLACK_BOT_USER_ID"),
            idempotency_table=optional("IDEMPOTENCY_TABLE"),
            secret_arn=secret_arn,
            policy_file=optional("CHATOPS_POLICY_FILE") or DEFAULT_POLICY_FILE,
            # Comma-separated, as the ChatOpsAdmins template parameter is; spaces allowed around the commas.
            chatops_admins=tuple(a.strip() for a in (optional("CHATOPS_ADMINS") or "").split(",") if a.strip()),
            audit_log_group=optional("AUDIT_LOG_GROUP"),
        )


SECRET_KEYS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
# A flood of forged signatures or failing calls must not become a flood of Secrets Manager reads.
REREAD_INTERVAL_SECONDS = 60.0


class RereadDeferred(Exception):
    """A credential failed and could not be re-read now (its re-read limit, or Secrets Manager
    unreadable): whether it was rotated is unknown, so the failure must not be taken as permanent.
    Answer 5xx: Slack's later retry finds the re-read allowed again."""


class SlackCredentials:
    """The bot token and signing secret in use, re-read from Secrets Manager when Slack says they changed.

    Rotation without a window of 401s: a signature that does not verify, or Slack answering
    `invalid_auth`, may mean the secret was rotated after this container read it. Then the secret
    is read again, at most once per REREAD_INTERVAL_SECONDS per container *and per credential*,
    counted from that credential's last re-read (not from the first read at start, so a rotation
    right after a cold start is seen at once). Each credential has its own limit: forged signatures,
    which anyone can send, use up only the signing secret's re-read, never the bot token's. A failure
    that a re-read might have resolved but was not allowed to raises RereadDeferred.
    """

    def __init__(
        self,
        bot_token: str,
        signing_secret: str,
        secret_arn: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._values = {"SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing_secret}
        self._secret_arn = secret_arn
        self._clock = clock
        self._last_reread: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def bot_token(self) -> str:
        return self._values["SLACK_BOT_TOKEN"]

    @property
    def signing_secret(self) -> str:
        return self._values["SLACK_SIGNING_SECRET"]

    def newer_bot_token(self, used: str) -> str | None:
        """A bot token other than `used` (it failed with an auth error), re-reading the secret if allowed;
        None if there is none (re-read, or nowhere to re-read from); RereadDeferred if not allowed now."""
        return self._newer("SLACK_BOT_TOKEN", used)

    def newer_signing_secret(self, used: str) -> str | None:
        """A signing secret other than `used` (a signature did not verify), re-reading the secret if allowed;
        None if there is none (re-read, or nowhere to re-read from); RereadDeferred if not allowed now."""
        return self._newer("SLACK_SIGNING_SECRET", used)

    def _newer(self, key: str, used: str) -> str | None:
        with self._lock:  # concurrent failures share one re-read
            if self._values[key] != used:  # another request already picked up the new value
                return self._values[key]
            if not self._secret_arn:
                return None  # from the environment: nothing to re-read, the failure stands
            now = self._clock()
            last = self._last_reread.get(key)
            if last is not None and now - last < REREAD_INTERVAL_SECONDS:
                raise RereadDeferred(key)
            self._last_reread[key] = now
            try:
                self._values.update(
                    {k: v.strip() for k, v in _read_slack_secret(self._secret_arn).items() if v.strip()}
                )
            except ConfigError:
                raise RereadDeferred(key) from None  # unreadable now: keep what we have, try again later
            return self._values[key] if self._values[key] != used else None


def _read_slack_secret(secret_arn: str) -> dict[str, str]:
    """The JSON secret {"SLACK_BOT_TOKEN": ..., "SLACK_SIGNING_SECRET": ...}, read from Secrets Manager now.

    With the container's shared client (short timeouts, bounded retries: inside Slack's 3 seconds), not
    Powertools' Parameters utility: every read here must be a fresh one (start, and a rotation), so its
    cache had nothing to give, and its import cost ~11 ms of every deployed cold start (README, Performance)."""
    from bolt_app.foundation import aws_clients

    try:
        answer = aws_clients.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    except Exception as error:  # any AWS error: name its code only, never a value
        raise ConfigError(f"SLACK_SECRET_ARN could not be read ({aws_clients.error_code(error)})") from None
    try:
        secret = json.loads(answer.get("SecretString") or "")
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise ConfigError("SLACK_SECRET_ARN is not a JSON object")
    return {key: str(secret[key]) for key in SECRET_KEYS if isinstance(secret.get(key), str)}


@dataclass(frozen=True)
class AwsDeployment:
    """The bot's own deployment, for `/stack-status`: the stack (STACK_NAME, set by template.yaml)
    and the function (AWS_LAMBDA_FUNCTION_NAME, set by Lambda). Both unset outside AWS."""

    stack_name: str | None
    function_name: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AwsDeployment:
        env = os.environ if environ is None else environ
        return cls(
            stack_name=env.get("STACK_NAME", "").strip() or None,
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", "").strip() or None,
        )
