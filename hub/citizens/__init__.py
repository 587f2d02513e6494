"""Citizen verification and lookup against the national population database (synchronous path).

- ``port/``: the ``PopulationDb`` protocol with its request/record models and error family, which
  ``connectors/population_db`` implements;
- ``grants.py``: who may verify, and which record fields each caller may see (deny by default);
- ``service.py``: one call = circuit breaker (``hub.resilience.CallBreaker``), thread pool,
  the port, audit row, answer;
- ``audit.py``: the append-only ``citizen_queries`` table (keyed hash of the ID number, no
  personal data) and its search;
- ``api.py``, ``models.py``: the HTTP routes and their bodies.

The composition root (``hub/bootstrap.py``) builds the service with the connector it wires in.
"""
