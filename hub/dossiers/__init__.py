"""Dossiers: the ingress of dossier status changes from one-stop systems (``api.py``): validate,
de-duplicate, record with the outbox (the ledger), 202. The national portal connector delivers them."""
