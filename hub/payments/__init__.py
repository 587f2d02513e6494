"""Fee payments, one domain: the gateway port (``port.py``: the ``PaymentGateway`` protocol, its
models and error family, implemented by ``connectors/payment_napas``), the rules (``rules.py``),
the service (``service.py``), reconciliation by status query (``reconcile.py``) and the HTTP
routes with their bodies (``api.py``, ``models.py``)."""
