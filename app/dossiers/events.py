"""What happens to a dossier, announced to whoever listens (blinker signals, in-process, same transaction).

Senders never know the listeners: the outbox subscribes (`app/outbox/subscribers.py`) to sync the national
portal and notify the applicant, all inside the unit of work that changed the dossier, so a rollback drops
the messages with the change.

- `status_changed(dossier, old=int, new=int, actor=Actor, reason=str)`
- `step_recorded(dossier, step=DossierStep)`: a progress step (hand-over, milestone)
- `apology_issued(dossier, new_due=datetime, reason=str, actor=Actor)`: paper 04, a new appointment date
- `task_due_soon(task, hours_left=float)`: the handler of a task is reminded before its due time
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

status_changed = _signals.signal("dossier-status-changed")
step_recorded = _signals.signal("dossier-step-recorded")
apology_issued = _signals.signal("dossier-apology-issued")
task_due_soon = _signals.signal("task-due-soon")
