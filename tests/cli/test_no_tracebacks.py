"""The CLI never shows a traceback (issue 16, point 8): each bad input gives one red line, a
non-zero exit and no partial file; an output's format follows its extension; profiles refuse
a boolean or text where a number belongs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from openpat.cli.main import app
from tests.cli.test_cli import env  # noqa: F401  (the fixture)
from tests.safety.test_faces import CANDIDATES, PROFILE

runner = CliRunner()


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert "error:" in result.output
    for word in words:
        assert word in result.output.replace("\n", " "), result.output


def _screen(profile: Path) -> Result:
    return runner.invoke(
        app,
        [
            "screen",
            "--profile",
            str(profile),
            "--protocol",
            "comp360-psilocybin-trd",
            "--dosing-date",
            "2027-02-01",
            "--today",
            "2026-11-23",
        ],
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("is empty",)),
        (b"\xff\xfe\x00not text", ("is not UTF-8",)),
        ('{"age_years": ' + "9" * 5001 + "}", ("a number too long",)),
        ("[" * 100_000 + "]" * 100_000, ("nested too deeply",)),
    ],
    ids=["empty", "not-utf8", "5001-digit-integer", "nested-100000-deep"],
)
def test_a_profile_that_cannot_be_read_is_one_red_line(
    tmp_path: Path, content: bytes | str, words: tuple[str, ...]
) -> None:
    path = tmp_path / "profile.json"
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    _refused(_screen(path), "--profile", *words)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("age_years", True, "give a number, not true"),
        ("qtc_ms", "420", "give a number, not text ('420')"),
        ("weight_kg", False, "give a number, not false"),
    ],
)
def test_a_profile_refuses_a_boolean_or_text_for_a_number(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({**PROFILE, field: value}))
    _refused(_screen(path), says)


def test_the_same_numbers_are_read_from_a_candidate_table_of_text(tmp_path: Path) -> None:
    """A candidate table's cells are all text; there "420" is the number 420."""
    source = tmp_path / "candidates.csv"
    source.write_text(CANDIDATES)
    out = tmp_path / "verdicts.csv"
    result = runner.invoke(
        app,
        [
            "screen",
            "batch",
            str(source),
            "--protocol",
            "spl026-dmt-mdd",
            "--out",
            str(out),
            "--dosing-date",
            "2027-03-01",
            "--today",
            "2026-11-23",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 3


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", ("is empty",)), (b"id: x\n\xff\xfe\n", ("is not UTF-8",))],
    ids=["empty", "not-utf8"],
)
def test_a_protocol_that_cannot_be_read_is_one_red_line(
    env: str,  # noqa: F811
    tmp_path: Path,
    content: bytes,
    words: tuple[str, ...],
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    path = tmp_path / "protocol.yaml"
    path.write_bytes(content)
    result = runner.invoke(app, ["trial", "protocol", "--study", "DMT-MDD-DEMO", str(path)])
    _refused(result, *words)


def test_an_out_that_is_a_directory_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "candidates.csv"
    source.write_text(CANDIDATES)
    target = tmp_path / "verdicts.csv"
    target.mkdir()
    result = runner.invoke(
        app,
        [
            "screen",
            "batch",
            str(source),
            "--protocol",
            "spl026-dmt-mdd",
            "--out",
            str(target),
            "--dosing-date",
            "2027-03-01",
        ],
    )
    _refused(result, "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candidates.csv", "verdicts.csv"]
    responses = tmp_path / "phq9.csv"
    responses.write_text("id,1,2,3,4,5,6,7,8,9\nA,1,1,1,1,1,1,1,1,0\n")
    scores = tmp_path / "scores.csv"
    scores.mkdir()
    result = runner.invoke(
        app, ["instruments", "score", str(responses), "--instrument", "PHQ-9", "--out", str(scores)]
    )
    _refused(result, "is a directory")
    assert not list(tmp_path.glob("*.partial"))


def test_the_output_format_follows_the_extension(tmp_path: Path) -> None:
    responses = tmp_path / "phq9.csv"
    responses.write_text("id,1,2,3,4,5,6,7,8,9\nA,1,1,1,1,1,1,1,1,0\nB,3,3,3,3,3,3,3,3,0\n")
    parquet = tmp_path / "x.parquet"
    made = runner.invoke(
        app,
        ["instruments", "score", str(responses), "--instrument", "PHQ-9", "--out", str(parquet)],
    )
    assert made.exit_code == 0, made.output
    assert pd.read_parquet(parquet)["total"].tolist() == [8.0, 24.0]  # Parquet, not CSV text
    contradicted = runner.invoke(
        app,
        [
            "instruments",
            "score",
            str(responses),
            "--instrument",
            "PHQ-9",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "y.parquet"),
        ],
    )
    _refused(contradicted, "--format csv contradicts y.parquet")
    assert not (tmp_path / "y.parquet").exists()
    unknown = runner.invoke(
        app,
        [
            "instruments",
            "score",
            str(responses),
            "--instrument",
            "PHQ-9",
            "--out",
            str(tmp_path / "z.xlsx"),
        ],
    )
    _refused(unknown, "z.xlsx")
