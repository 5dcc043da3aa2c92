"""A Slack ChatOps bot on Bolt for Python, built to run on AWS Lambda."""

from bolt_app.app import create_app
from bolt_app.config import ConfigError, Settings

__all__ = ["ConfigError", "Settings", "create_app"]
