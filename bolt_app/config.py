"""Configuration: one small typed object, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


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
        )


SECRET_KEYS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


def _read_slack_secret(secret_arn: str) -> dict[str, str]:
    """The JSON secret {"SLACK_BOT_TOKEN": ..., "SLACK_SIGNING_SECRET": ...}, read once and cached by Powertools."""
    # Imported here: it pulls in boto3, which only Secrets Manager users should pay for at cold start.
    from aws_lambda_powertools.utilities import parameters

    try:
        secret = parameters.get_secret(secret_arn, transform="json", max_age=24 * 3600)
    except Exception as error:  # any AWS error: name its code only, never a value
        raise ConfigError(f"SLACK_SECRET_ARN could not be read ({_aws_error_code(error)})") from None
    if not isinstance(secret, dict):
        raise ConfigError("SLACK_SECRET_ARN is not a JSON object")
    return {key: str(secret[key]) for key in SECRET_KEYS if isinstance(secret.get(key), str)}


def _aws_error_code(error: BaseException) -> str:
    """botocore's error code (AccessDeniedException, ResourceNotFoundException, ...) under Powertools' wrapper."""
    cause = error.__cause__ or error.__context__ or error
    code = getattr(cause, "response", {}).get("Error", {}).get("Code") if hasattr(cause, "response") else None
    return str(code or type(cause).__name__)
