"""The outbox: every partner call is a row written with the dossier change, delivered by the scheduler.

`services.enqueue` writes, `services.claim`/`deliver` send (workers in `flask jobs run`), `handlers` turns
BPMN service tasks into rows, `subscribers` turns dossier events into portal syncs and notifications,
`inbound` applies partner answers, `routes` is the admin page and the callback endpoints.
"""
