"""Online payment of fees (lệ phí) through the payment gateway connector (`connectors/payment.py`).

models.py: one `Payment` row per attempt; services.py: start, apply a result (idempotent), poll;
routes.py: the citizen's pages and the gateway's notify callback; receipt.py: the receipt PDF (biên lai).
"""
