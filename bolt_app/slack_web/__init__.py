"""Talking to Slack and what the bot says: the rotating-token Web API client, retry handlers and the
response_url client, Slack's text escaping, and every Block Kit message, built in one place."""
