"""The citizen benchmark's workload stays valid: every body passes the API's validation (its purpose names
no citizen), and the mix
holds matches, mismatches and unknown citizens of the mock."""

from __future__ import annotations

from bench.citizens import workload
from connectors.population_db.synthetic import DEMO_CITIZENS, generated_citizens
from hub.citizens.models import VerifyIn


def test_the_workload_is_valid_and_mixed() -> None:
    bodies = [VerifyIn.model_validate_json(b) for b in workload(300)]
    known = {p.id_number for p in (*DEMO_CITIZENS, *generated_citizens(1, 200))}
    unknown = sum(b.id_number not in known for b in bodies)
    assert 10 < unknown < 60  # ~10 %
    assert len({b.officer_code for b in bodies}) > 10
