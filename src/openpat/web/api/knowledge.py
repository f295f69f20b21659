"""The knowledge base: substances, comparison, medications, interactions, references,
instruments and published trials (read-only reference data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from openpat.knowledge.compare import SubstanceComparison
from openpat.services import knowledge as kn
from openpat.web.deps import KnowledgeReader

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

Slug = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("")
def version(active: KnowledgeReader) -> kn.VersionRead:
    """The data version, release date, content hash and counts."""
    return kn.version()


@router.get("/substances")
def list_substances(active: KnowledgeReader) -> list[kn.SubstanceListItem]:
    return kn.substances()


@router.get("/substances/{substance_id}")
def get_substance(active: KnowledgeReader, substance_id: Slug) -> dict[str, Any]:
    """Every fact about one substance (id, name or synonym), each with its references."""
    return kn.substance_json(substance_id)


@router.get("/compare")
def compare(
    active: KnowledgeReader,
    ids: Annotated[list[str] | None, Query(max_length=kn.MAX_COMPARE)] = None,
) -> list[SubstanceComparison]:
    """Duration per route, legal status, primary targets and notable effects per substance;
    ``?ids=dmt&ids=psilocybin`` or ``?ids=dmt,psilocybin``; every substance when none given."""
    return kn.compare(ids or [s.id for s in kn.substances()])


@router.get("/medications")
def find_medications(
    active: KnowledgeReader,
    name: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 10,
) -> list[kn.MedicationMatchRead | kn.MedicationRead]:
    """Medications matching a generic or brand name, best first (typos tolerated); without
    ``name``, every medication in alphabetical order (``limit`` applies)."""
    if name is None:
        return kn.all_medications(limit=limit)
    return list(kn.find_medications(name, limit=limit))  # best first, with score


@router.get("/medications/{medication_id}")
def get_medication(active: KnowledgeReader, medication_id: Slug) -> kn.MedicationDetail:
    return kn.medication(medication_id)


@router.get("/interactions")
def list_interactions(
    active: KnowledgeReader,
    substance: Annotated[str | None, Query(max_length=100)] = None,
    medication: Annotated[str | None, Query(max_length=100)] = None,
) -> list[kn.InteractionRead]:
    return kn.interactions(substance, medication)


@router.get("/references")
def list_references(
    active: KnowledgeReader, search: Annotated[str | None, Query(max_length=100)] = None
) -> list[kn.ReferenceRead]:
    return kn.references(search)


@router.get("/references/{reference_id}")
def get_reference(active: KnowledgeReader, reference_id: Slug) -> kn.ReferenceRead:
    return kn.reference(reference_id)


@router.get("/instruments")
def list_instruments(active: KnowledgeReader) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in kn.instruments()]


@router.get("/instruments/{instrument_id}")
def get_instrument(active: KnowledgeReader, instrument_id: Slug) -> dict[str, Any]:
    data: dict[str, Any] = kn.instrument(instrument_id).model_dump(mode="json")
    return data


@router.get("/trials")
def list_trials(active: KnowledgeReader) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in kn.trials()]


@router.get("/trials/{trial_id}")
def get_trial(active: KnowledgeReader, trial_id: Slug) -> dict[str, Any]:
    data: dict[str, Any] = kn.trial(trial_id).model_dump(mode="json")
    return data
