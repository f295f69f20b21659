"""Pharmacology: simulation models, population simulations and infusion designs (no data
is stored; every role that may read the knowledge base may run them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from openpat.services import pharmacology
from openpat.services.pharmacology import DesignCreate, SimulationCreate
from openpat.web.deps import KnowledgeReader

router = APIRouter(tags=["pharmacology"])


@router.get("/pk/models")
def list_models(active: KnowledgeReader) -> list[dict[str, Any]]:
    """Substance/route PK/PD models with their structure, salts, effect scale and references."""
    return pharmacology.models()


@router.post("/pk/simulations")
def simulate(body: SimulationCreate, active: KnowledgeReader) -> dict[str, Any]:
    """Simulate up to six regimens for the typical subject and a virtual population:
    Cmax, Tmax, peak effect and session length (typical and 5/50/95th percentiles) and the
    median and 5–95 % curves on a shared time grid."""
    return pharmacology.simulate_regimens(body)


@router.post("/pk/designs")
def design(body: DesignCreate, active: KnowledgeReader) -> dict[str, Any]:
    """Design a bolus + stepwise IV infusion reaching and holding a target effect, and its
    population performance (share of subject-time inside the target band)."""
    return pharmacology.design(body)
