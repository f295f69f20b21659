"""The Knowledge section: substances, the comparison table, medication search with
autocomplete, interactions, instruments, published trials and the reference list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from openpat.errors import InvalidInput
from openpat.services import knowledge as kn
from openpat.web.deps import KnowledgeReader
from openpat.web.templating import render

router = APIRouter(prefix="/knowledge", include_in_schema=False)

Slug = Annotated[str, Path(min_length=1, max_length=100)]


def _citations(*models: Any) -> dict[str, Any]:
    """Numbered references for the facts shown on a page: ``refnum`` maps an id to its
    number, ``reflist`` lists the references in that order (rendered at the page foot)."""
    return citations_context(kn.cited_ids(*models))


def citations_context(ordered: list[str]) -> dict[str, Any]:
    """The ``cite``/``reflist_section`` macros' context for these reference ids, in order."""
    reflist = [kn.reference(i) for i in ordered]
    by_id = {r.id: r for r in reflist}

    def reftitle(ref_id: str) -> str:
        ref = by_id.get(ref_id)
        return f"{ref.short}: {ref.title}" if ref else ref_id

    return {
        "refnum": {r.id: n for n, r in enumerate(reflist, 1)},
        "reflist": reflist,
        "reftitle": reftitle,
    }


def _page(request: Request, template: str, title: str, **context: Any) -> Response:
    return render(request, template, {"title": title, "nav_key": "knowledge", **context})


@router.get("")
def index(request: Request, active: KnowledgeReader) -> Response:
    return _page(
        request,
        "knowledge/index.html",
        "Knowledge",
        info=kn.version(),
        substances=kn.substances(),
    )


@router.get("/substances/{substance_id}")
def substance_page(request: Request, active: KnowledgeReader, substance_id: Slug) -> Response:
    sub = kn.substance(substance_id)
    rules = kn.interactions(sub.id, None)
    return _page(
        request,
        "knowledge/substance.html",
        sub.name,
        sub=sub,
        rules=rules,
        **_citations(sub, rules),
    )


@router.get("/compare")
def compare_page(
    request: Request,
    active: KnowledgeReader,
    ids: Annotated[list[str] | None, Query(max_length=kn.MAX_COMPARE)] = None,
) -> Response:
    """The comparison table; every substance when none is chosen."""
    everything = kn.substances()
    chosen = ids or [s.id for s in everything]
    rows = kn.compare(chosen)
    return _page(
        request,
        "knowledge/compare.html",
        "Compare substances",
        rows=rows,
        everything=everything,
        chosen={r.id for r in rows},
        **_citations(rows),
    )


@router.get("/medications")
def medications_page(
    request: Request,
    active: KnowledgeReader,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    matches: list[kn.MedicationMatchRead] = []
    error = None
    if name is not None and name.strip():
        try:
            matches = kn.find_medications(name, limit=15)
        except InvalidInput as exc:
            error = exc.message
    return _page(
        request,
        "knowledge/medications.html",
        "Medications",
        name=name or "",
        matches=matches,
        error=error,
        count=len(kn.kb().medications),
    )


@router.get("/medications/{medication_id}")
def medication_page(request: Request, active: KnowledgeReader, medication_id: Slug) -> Response:
    detail = kn.medication(medication_id)
    return _page(
        request,
        "knowledge/medication.html",
        detail.medication.generic,
        detail=detail,
        classes=kn.kb().medication_classes,
        **_citations(detail),
    )


@router.get("/interactions")
def interactions_page(
    request: Request,
    active: KnowledgeReader,
    substance: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    rules = kn.interactions(substance or None, None)
    return _page(
        request,
        "knowledge/interactions.html",
        "Interactions",
        rules=rules,
        substance=substance or "",
        substances=kn.substances(),
        **_citations(rules),
    )


@router.get("/instruments")
def instruments_page(request: Request, active: KnowledgeReader) -> Response:
    return _page(request, "knowledge/instruments.html", "Instruments", items=kn.instruments())


@router.get("/instruments/{instrument_id}")
def instrument_page(request: Request, active: KnowledgeReader, instrument_id: Slug) -> Response:
    ins = kn.instrument(instrument_id)
    return _page(request, "knowledge/instrument.html", ins.name, ins=ins, **_citations(ins))


@router.get("/trials")
def trials_page(request: Request, active: KnowledgeReader) -> Response:
    return _page(request, "knowledge/trials.html", "Published trials", items=kn.trials())


@router.get("/trials/{trial_id}")
def trial_page(request: Request, active: KnowledgeReader, trial_id: Slug) -> Response:
    trial = kn.trial(trial_id)
    return _page(request, "knowledge/trial.html", trial.name, trial=trial, **_citations(trial))


@router.get("/references")
def references_page(
    request: Request,
    active: KnowledgeReader,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    refs = kn.references(search)
    return _page(request, "knowledge/references.html", "References", refs=refs, search=search or "")


@router.get("/references/{reference_id}")
def reference_page(request: Request, active: KnowledgeReader, reference_id: Slug) -> Response:
    ref = kn.reference(reference_id)
    return _page(request, "knowledge/reference.html", ref.short, ref=ref)
