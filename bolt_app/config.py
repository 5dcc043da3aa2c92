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

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"Settings(api_url={self.api_url!r}, socket_mode={self.app_token is not None})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name} is not set")
            return value

        def optional(name: str) -> str | None:
            return env.get(name, "").strip() or None

        api_url = optional("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        return cls(
            bot_token=required("SLACK_BOT_TOKEN"),
            signing_secret=required("SLACK_SIGNING_SECRET"),
            # slack_sdk joins base_url + method name: the trailing slash is required.
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            app_token=optional("SLACK_APP_TOKEN"),
            bot_id=optional("SLACK_BOT_ID"),
            bot_user_id=optional("SLACK_BOT_USER_ID"),
        )
