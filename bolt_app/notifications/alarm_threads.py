"""The alarm card state machine: one thread per alarm, its first message always showing the latest state.

- No thread for the alarm yet: the change opens one (its card is the thread's first message).
- An ALARM that happened after the OK the card shows starts a new thread: an alarm that recovered and
  fired again is a new incident. Every other change (INSUFFICIENT_DATA, OK, ALARM after ALARM) is a reply
  in the current thread.
- A change newer (StateChangeTime) than what the card shows becomes what it shows (chat.update of the first
  message); an older one (SNS and Lambda deliver late and out of order) is still posted in the thread,
  marked late, and never overwrites it.

Across containers the thread record (thread_store.py) decides: one container opens a thread and the others
wait for its first message; the newest change wins the card through a conditional write; and whoever
redraws the card reads the record again afterwards and redraws once more if a newer change came meanwhile,
so the last redraw always shows the newest state. Each step is recorded (`posted`), so a retried
notification does not repeat what it already posted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from bolt_app.foundation.observability import Metric, count
from bolt_app.notifications.events import AlarmChange
from bolt_app.notifications.posting import AlertsPoster, MessageGone, NotificationFailed
from bolt_app.notifications.thread_store import ALARM_PREFIX, Thread, ThreadStore, post_first_message
from bolt_app.slack_web.blocks import AlarmView, alarm_card, alarm_thread_reply

logger = logging.getLogger(__name__)
# chat.update(ts, text, blocks)
Update = Callable[[str, str, list[dict]], None]
POLL_SECONDS = 0.1
# Posting a card takes one chat.postMessage, which the rate limit may hold for some seconds in a storm.
MAX_WAIT_FOR_CARD_SECONDS = 20.0
# A card redrawn this many times in a row by one notification means a storm of that alarm: the newer
# changes' own notifications redraw it after theirs.
MAX_REDRAWS = 5


def alarm_key(alarm_arn: str) -> str:
    return ALARM_PREFIX + alarm_arn


def view_of(change: AlarmChange, acknowledged_by: str | None = None) -> AlarmView:
    return AlarmView(
        alarm_name=change.alarm_name,
        alarm_arn=change.alarm_arn,
        state=change.new_state,
        reason=change.reason,
        changed_at=datetime.fromisoformat(change.changed_at),
        region=change.region_name or change.region_code,
        console_url=change.console_url,
        description=change.description,
        metric=change.metric,
        threshold=change.threshold,
        acknowledged_by=acknowledged_by,
    )


def card_of(thread: Thread) -> tuple[str, list[dict]]:
    return alarm_card(view_of(AlarmChange.from_record(thread.shown), thread.acknowledged_by))


class AlarmThreads:
    def __init__(self, store: ThreadStore, poster: AlertsPoster, remaining_seconds: Callable[[], float]) -> None:
        self.store = store
        self.poster = poster
        self._remaining = remaining_seconds

    def handle(self, change: AlarmChange) -> None:
        key = alarm_key(change.alarm_arn)
        while True:
            thread = self.store.get(key)
            if thread is not None and thread.ts is None:
                if thread.opener == change.message_id:
                    # Our own earlier attempt claimed the thread and failed before posting its card.
                    self._post_card(thread)
                    return
                self._wait_for_card(key, thread)
                continue
            if thread is None or self._starts_new_thread(thread, change):
                opened = self.store.open(key, thread, change.message_id, change.to_record(), change.changed_at)
                if opened is None:
                    continue  # another container changed the record first: look again
                self._post_card(opened)
                return
            self._reply(thread, change)
            return

    @staticmethod
    def _starts_new_thread(thread: Thread, change: AlarmChange) -> bool:
        if change.new_state != "ALARM" or change.message_id in thread.posted or change.message_id == thread.opener:
            return False
        shown = AlarmChange.from_record(thread.shown)
        return shown.new_state == "OK" and change.changed_at > thread.shown_at

    def _post_card(self, thread: Thread) -> None:
        ts = post_first_message(self.store, thread, self.poster, *card_of(thread))
        # A newer change may have been shown (by a container that waited for this card) meanwhile.
        self._redraw(thread.key, ts, thread)

    def _wait_for_card(self, key: str, thread: Thread) -> None:
        """Another container is posting the thread's first message: replies need its ts. Bounded (the opener
        may have crashed): then this notification raises, and Lambda's retry finds the thread or opens it."""
        give_up = time.monotonic() + min(MAX_WAIT_FOR_CARD_SECONDS, self._remaining() - 5)
        while time.monotonic() < give_up:
            time.sleep(POLL_SECONDS)
            current = self.store.get(key)
            if current is None or current.ts is not None or current.generation != thread.generation:
                return
        raise NotificationFailed("the alarm's thread was still being opened by another invocation")

    def _reply(self, thread: Thread, change: AlarmChange) -> None:
        assert thread.ts is not None
        if change.message_id in thread.posted or change.message_id == thread.opener:
            self._redraw(thread.key, thread.ts, None)  # posted before a failure: only the redraw may be missing
            return
        newer = thread.shown_id == change.message_id or self.store.show_if_newer(
            thread, change.message_id, change.to_record(), change.changed_at
        )
        self.poster.post(alarm_thread_reply(view_of(change), late=not newer), thread_ts=thread.ts)
        count(Metric.ALERTS_POSTED)
        self.store.mark_posted(thread, change.message_id)
        if newer:
            self._redraw(thread.key, thread.ts, None)

    def _redraw(self, key: str, ts: str, drawn: Thread | None) -> None:
        redraw(self.store, key, ts, drawn, self.poster.update)


def redraw(store: ThreadStore, key: str, ts: str, drawn: Thread | None, update: Update) -> None:
    """chat.update the first message until it shows what the record says (newest change, acknowledgement).

    Whoever changes the record redraws after it and reads the record again after each redraw: a redraw
    that raced with a newer change (and drew the older one last) is followed by one more."""
    for _ in range(MAX_REDRAWS):
        current = store.get(key)
        if current is None or current.ts != ts:
            return  # a new thread replaced this one: its own card is drawn by its opener
        if drawn is not None and (current.shown_id, current.acknowledged_by) == (drawn.shown_id, drawn.acknowledged_by):
            return
        text, blocks = card_of(current)
        try:
            update(ts, text, blocks)
        except MessageGone:
            # Deleted in Slack: this change is in the thread (posted before the redraw); the next opens a new one.
            logger.warning("alarm card gone from the channel; the next change opens a new thread")
            store.retire(current)
            return
        drawn = current
