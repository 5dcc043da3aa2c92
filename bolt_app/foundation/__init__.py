"""What every layer uses: the AWS clients (one boto3 session per container) and observability (Logger, Metrics).

Imports nothing of the bot's but `bolt_app.config`; nothing here imports a layer above it.
"""
