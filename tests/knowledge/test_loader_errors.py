"""The loader refuses malformed data with a message naming the file, the entry, the field and
what was expected: one test per kind of fault. All faults are reported in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openpat.knowledge import DataProblem, KnowledgeDataError, load
from tests.knowledge.minimal import files, write


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[DataProblem]:
    write(tmp_path, data)
    with pytest.raises(KnowledgeDataError) as caught:
        load(tmp_path)
    return caught.value.problems


def only(problems: list[DataProblem]) -> DataProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_the_minimal_directory_is_valid(tmp_path: Path) -> None:
    kb = load(write(tmp_path))
    assert kb.version == "2026.11.1"
    assert kb.medications["sertraline"].half_life is not None


def test_invalid_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"] = "medications:\n  - generic: sertraline\n    brands: [Zoloft\n"
    p = only(problems_of(tmp_path, data))
    assert p.file == "medications/ssri.yaml"
    assert "not valid YAML at line" in p.message and "column" in p.message


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    data = files()
    del data["medications/ssri.yaml"]["medications"][0]["classes"]
    p = only(problems_of(tmp_path, data))
    assert (p.file, p.field) == ("medications/ssri.yaml", "classes")
    assert "'sertraline'" in p.entry and "required" in p.message


def test_an_unknown_field_is_a_typo_not_ignored(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["half_lfe"] = {"value": 1}
    p = only(problems_of(tmp_path, data))
    assert p.field == "half_lfe" and "not a known field" in p.message


def test_a_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    data = files()
    data["trials/mapp1.yaml"]["trial"]["arms"][0]["n_randomized"] = "ten"
    p = only(problems_of(tmp_path, data))
    assert (p.file, p.entry, p.field) == ("trials/mapp1.yaml", "'mapp1'", "arms[0].n_randomized")
    assert "valid integer" in p.message and "'ten'" in p.message


def test_an_unknown_severity_lists_the_allowed_ones(tmp_path: Path) -> None:
    data = files()
    data["interactions/serotonergic.yaml"]["interactions"][0]["severity"] = "severe"
    p = only(problems_of(tmp_path, data))
    assert p.field == "severity"
    assert "contraindicated" in p.message and "reduced-effect" in p.message


def test_a_range_with_low_above_high_is_refused(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["half_life"]["parent"] = {
        "low": 36,
        "high": 22,
        "unit": "h",
    }
    p = only(problems_of(tmp_path, data))
    assert p.field == "half_life.parent"
    assert "low (36) is greater than high (22)" in p.message


def test_an_unknown_unit_lists_the_known_units(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["half_life"]["parent"]["unit"] = "hours"
    p = only(problems_of(tmp_path, data))
    assert p.field == "half_life.parent.unit"
    assert "unknown unit 'hours'" in p.message and "min" in p.message


def test_a_fact_without_a_citation_is_refused(tmp_path: Path) -> None:
    data = files()
    data["substances/dmt.yaml"]["substance"]["routes"][0]["durations"][0]["refs"] = []
    p = only(problems_of(tmp_path, data))
    assert (p.file, p.field) == ("substances/dmt.yaml", "routes[0].durations[0].refs")
    assert "at least 1" in p.message


def test_a_dangling_citation_names_the_fact_that_cites_it(tmp_path: Path) -> None:
    data = files()
    data["substances/dmt.yaml"]["substance"]["mechanism"]["targets"][0]["refs"] = ["nobody-1999"]
    p = only(problems_of(tmp_path, data))
    assert p.field == "mechanism.targets[0].refs[0]"
    assert "cites 'nobody-1999', which is not in references.yaml" in p.message


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    data = files()
    meds = data["medications/ssri.yaml"]["medications"]
    meds.append(dict(meds[0], brands=["Lustral"]))
    p = only(problems_of(tmp_path, data))
    assert p.field == "id" and "'sertraline' is defined twice" in p.message


def test_a_malformed_doi_and_pmid_are_refused(tmp_path: Path) -> None:
    data = files()
    data["references.yaml"]["references"][0]["doi"] = "doi.org/10.1000/x"
    data["references.yaml"]["references"][0]["pmid"] = "PMC123"
    found = problems_of(tmp_path, data)
    fields = {p.field: p.message for p in found}
    assert "is not a DOI" in fields["doi"]
    assert "is not a PubMed id" in fields["pmid"]
    assert all(p.file == "references.yaml" and "'smith-2020'" in p.entry for p in found)


def test_a_web_page_needs_an_accessed_date(tmp_path: Path) -> None:
    data = files()
    del data["references.yaml"]["references"][1]["accessed"]
    p = only(problems_of(tmp_path, data))
    assert "'agency-page'" in p.entry and "needs an accessed date" in p.message


def test_an_unknown_medication_class_is_refused(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["classes"] = ["ssri", "snri"]
    p = only(problems_of(tmp_path, data))
    assert p.field == "classes[1]"
    assert "'snri' is not a known medication class" in p.message


def test_an_interaction_with_an_unknown_substance_is_refused(tmp_path: Path) -> None:
    data = files()
    data["interactions/serotonergic.yaml"]["interactions"][0]["substances"] = ["dtm"]
    p = only(problems_of(tmp_path, data))
    assert p.field == "substances[0]" and "'dtm' is not a known substance" in p.message


def test_a_brand_naming_two_generics_is_refused(tmp_path: Path) -> None:
    data = files()
    meds = data["medications/ssri.yaml"]["medications"]
    meds.append(dict(meds[0], generic="paroxetine", brands=["ZOLOFT"], atc=["N06AB05"]))
    p = only(problems_of(tmp_path, data))
    assert "'paroxetine'" in p.entry and "already names 'sertraline'" in p.message


def test_an_invalid_atc_code_is_refused(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["atc"] = ["N6AB06"]
    p = only(problems_of(tmp_path, data))
    assert p.field == "atc[0]" and "not an ATC code" in p.message


def test_an_entity_file_must_be_named_after_its_id(tmp_path: Path) -> None:
    data = files()
    data["substances/dmt-iv.yaml"] = data.pop("substances/dmt.yaml")
    p = only(problems_of(tmp_path, data))
    assert p.file == "substances/dmt-iv.yaml" and "must match the file name" in p.message


def test_an_invalid_date_is_refused(tmp_path: Path) -> None:
    data = files()
    data["substances/dmt.yaml"]["substance"]["updated"] = "23/11/2026"
    p = only(problems_of(tmp_path, data))
    assert p.field == "updated" and "date" in p.message


def test_item_text_is_refused_when_the_licence_forbids_it(tmp_path: Path) -> None:
    data = files()
    data["instruments/phq-9.yaml"]["instrument"]["items"][0]["text"] = "Copyrighted wording"
    p = only(problems_of(tmp_path, data))
    assert "licence does not allow redistributing item text" in p.message


def test_a_result_for_an_unknown_arm_is_refused(tmp_path: Path) -> None:
    data = files()
    data["trials/mapp1.yaml"]["trial"]["results"][0]["arm"] = "placebo"
    p = only(problems_of(tmp_path, data))
    assert "unknown arm 'placebo'" in p.message


def test_a_wrong_top_level_key_is_refused(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"] = {"medication": data["medications/ssri.yaml"]["medications"]}
    found = problems_of(tmp_path, data)
    assert any("not a top-level key" in p.message and p.field == "medication" for p in found)


def test_every_fault_is_reported_in_one_pass(tmp_path: Path) -> None:
    data = files()
    data["medications/ssri.yaml"]["medications"][0]["atc"] = ["bad"]
    data["interactions/serotonergic.yaml"]["interactions"][0]["severity"] = "severe"
    data["trials/mapp1.yaml"]["trial"]["refs"] = ["missing-ref"]
    found = problems_of(tmp_path, data)
    assert {p.file for p in found} == {
        "medications/ssri.yaml",
        "interactions/serotonergic.yaml",
        "trials/mapp1.yaml",
    }
    assert "3 problems" in str(KnowledgeDataError(found))
