"""Cold start, per-message cost and artifact size of the bot, each beside a floor measured in the same run.

Run it with `make bench` (see README, "Performance"). Dev-only: never part of the Lambda artifact.
"""
