"""Connectors: how MotCua talks to partners (Vietnam Post, the document axis, the national portal, SMS, e-mail).

Nothing here touches the database. The app's outbox (`app/outbox`) stores every outbound call and hands it to
`get(name).send(operation, payload, key)`; a connector answers with a JSON-able dict or raises
`TransientError` (retry later) or `PermanentError` (dead letter). See `connectors/base.py`.
`connectors/simulators/` holds the partner simulators (separate processes), `connectors/contracts/` the
HTTP contracts we publish as OpenAPI.
"""

from connectors.base import REGISTRY, Connector, ConnectorError, PermanentError, TransientError, get, register

__all__ = ["REGISTRY", "Connector", "ConnectorError", "PermanentError", "TransientError", "get", "register"]
