"""A minimal, valid knowledge data directory that tests mutate one fault at a time."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REF = {
    "id": "smith-2020",
    "kind": "article",
    "authors": ["Smith A", "Jones B"],
    "year": 2020,
    "title": "A study",
    "journal": "Journal of Tests",
    "doi": "10.1000/test.1",
}

FILES: dict[str, Any] = {
    "manifest.yaml": {
        "manifest": {
            "version": "2026.11.1",
            "released": "2026-11-23",
            "changes": [{"version": "2026.11.1", "date": "2026-11-23", "summary": "First."}],
        }
    },
    "references.yaml": {
        "references": [
            REF,
            {
                "id": "agency-page",
                "kind": "web",
                "organisation": "An Agency",
                "year": 2024,
                "title": "A page",
                "url": "https://example.org/page",
                "accessed": "2026-11-01",
            },
        ]
    },
    "vocabulary.yaml": {
        "medication_classes": [
            {"id": "antidepressant", "label": "Antidepressant"},
            {"id": "ssri", "label": "SSRI", "parents": ["antidepressant"]},
        ],
        "substance_groups": [{"id": "serotonergic-psychedelic", "label": "Classic"}],
    },
    "substances/dmt.yaml": {
        "substance": {
            "id": "dmt",
            "name": "DMT",
            "synonyms": ["N,N-dimethyltryptamine"],
            "groups": ["serotonergic-psychedelic"],
            "updated": "2026-11-23",
            "chemical_class": {"text": "tryptamine", "refs": ["smith-2020"]},
            "mechanism": {
                "summary": "5-HT2A agonist",
                "targets": [
                    {
                        "receptor": "5-HT2A",
                        "action": "agonist",
                        "primary": True,
                        "refs": ["smith-2020"],
                    }
                ],
            },
            "routes": [
                {
                    "route": "intravenous",
                    "durations": [
                        {
                            "source_kind": "controlled-study",
                            "total": {"low": 15, "high": 30, "unit": "min"},
                            "refs": ["smith-2020"],
                        }
                    ],
                }
            ],
        }
    },
    "medications/ssri.yaml": {
        "medications": [
            {
                "generic": "sertraline",
                "brands": ["Zoloft"],
                "atc": ["N06AB06"],
                "classes": ["ssri"],
                "half_life": {
                    "parent": {"low": 22, "high": 36, "unit": "h"},
                    "refs": ["smith-2020"],
                },
                "refs": ["smith-2020"],
            }
        ]
    },
    "interactions/serotonergic.yaml": {
        "interactions": [
            {
                "id": "ssri-psychedelic",
                "substance_groups": ["serotonergic-psychedelic"],
                "medication_classes": ["ssri"],
                "severity": "reduced-effect",
                "mechanism": "receptor adaptation",
                "consequence": "blunted effect",
                "management": {"action": "washout", "washout_days": 14, "text": "Taper."},
                "refs": ["smith-2020"],
            }
        ]
    },
    "instruments/phq-9.yaml": {
        "instrument": {
            "id": "phq-9",
            "name": "Patient Health Questionnaire-9",
            "abbreviation": "PHQ-9",
            "measures": "depression",
            "administration": "self-report",
            "recall_period": "past 2 weeks",
            "updated": "2026-11-23",
            "refs": ["smith-2020"],
            "licence": {"summary": "free", "items_redistributable": False, "refs": ["agency-page"]},
            "response_sets": {"f": [{"value": 0, "label": "Not at all"}]},
            "items": [{"number": 1, "key": "anhedonia", "label": "Interest", "options": "f"}],
            "scoring": {
                "method": "sum",
                "total": {"low": 0, "high": 27, "unit": "score"},
                "refs": ["smith-2020"],
            },
        }
    },
    "trials/mapp1.yaml": {
        "trial": {
            "id": "mapp1",
            "name": "MAPP1",
            "title": "A trial",
            "substance": "dmt",
            "indication": "PTSD",
            "phase": "3",
            "design": "randomized",
            "population": "adults",
            "updated": "2026-11-23",
            "refs": ["smith-2020"],
            "arms": [{"id": "a", "label": "Active", "n_randomized": 10, "intervention": "x"}],
            "primary_outcome": {
                "description": "change",
                "instrument": "phq-9",
                "timepoint": "week 18",
                "refs": ["smith-2020"],
            },
            "results": [
                {
                    "outcome": "total",
                    "timepoint": "week 18",
                    "arm": "a",
                    "statistic": "mean-change",
                    "value": -10.0,
                    "dispersion": {"kind": "sd", "value": 5.0},
                    "n": 10,
                    "refs": ["smith-2020"],
                }
            ],
        }
    },
}


def write(root: Path, files: dict[str, Any] | None = None) -> Path:
    """Write the data directory (``files`` defaults to a deep copy of FILES)."""
    for name, content in (files if files is not None else copy.deepcopy(FILES)).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(
                yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
    return root


def files() -> dict[str, Any]:
    return copy.deepcopy(FILES)
