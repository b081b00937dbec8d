"""Background jobs: BPMN timers fired by one scheduler process (`flask jobs run`), never by web workers.

- `sync_timers(dossier, instance)`: called at the end of every `advance()`; the dossier's waiting timers
  become `timers` rows (pending), timers the workflow dropped are cancelled.
- `run_due(now=None)`: claim due rows atomically, fire each under the dossier's lock, mark them fired.
- `scheduler.run()`: the APScheduler loop with a leader heartbeat (one active scheduler).
"""

from app.jobs.timers import heartbeat, run_due, sync_timers

__all__ = ["heartbeat", "run_due", "sync_timers"]
