"""Agencies (cơ quan, đơn vị): what the hub knows per agency of a province. See ``port.py``."""
