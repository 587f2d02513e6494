"""Postal service (bưu chính công ích, BCCI): VNPost pickups of dossiers and deliveries of results.

The domain's port (``port.py``: models, the ``PostalGateway`` protocol, the error family), its pure
rules (``rules.py``: parcel statuses and how tracking events apply), the administrative-unit mapping
to VNPost's ids (``units.py``, data in ``data/``) and the canonical ledger messages (``messages.py``).
Connectors (``connectors/vnpost``) implement the port. The hub's side: the service (``service.py``:
orders through the ledger, tracking applied once and in order, announced), its API (``api.py``,
request and answer models in ``models.py``) and the tracking poller (``poller.py``, beside the relay).
The port, the rules, the units and the messages do no I/O except reading the shipped data files.
"""
