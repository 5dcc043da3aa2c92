"""Alarms, deploys and a digest, carried into one Slack channel (ALERTS_CHANNEL).

Loaded only when handler.handler receives such an event (never on Slack's HTTP path):

- SNS (`Records[].EventSource == "aws:sns"`): the stack's AlarmTopic. A CloudWatch alarm state change becomes
  a card, one thread per alarm (alarm_threads.py); any other message is posted as a plain, escaped notification.
- EventBridge `CloudFormation Stack Status Change` of this stack: "Deploying *stack*…", then how it ended.
- EventBridge Scheduler (template parameter DigestSchedule): the /stack-status card (events.DIGEST_MARK).

The one entry point is `entry.handle_event`.
"""
