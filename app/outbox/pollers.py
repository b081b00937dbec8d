"""Pulling from partners that offer it (run by the scheduler leader every minute).

- Vietnam Post: orders not final and quiet for a while are tracked; each history entry is applied with
  the same event ids as callbacks, so a callback and a poll of one event count once.
- Document axis: this agency's mailbox is fetched, each message verified and applied, then acknowledged.
- Handlers of tasks due soon are reminded (app/inbox/reminders.py).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run_pollers() -> None:
    for name, poll in POLLERS:
        try:
            poll()
        except Exception:  # noqa: BLE001 — one partner down must not stop the others
            log.exception("poller %s failed", name)


POLLERS: list[tuple[str, object]] = []
