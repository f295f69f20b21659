"""`openpat worker --once` and `openpat jobs` against a real database."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from openpat.cli.main import app
from tests.cli.test_cli import env  # noqa: F401  (the fixture)

runner = CliRunner()


def test_the_worker_runs_the_nightly_check_and_jobs_lists_it(env: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    # the test clock reads 09:30 UTC, past the nightly check's hour (2): one round queues it
    # and runs it
    ran = runner.invoke(app, ["worker", "--once"])
    assert ran.exit_code == 0, ran.output
    listed = runner.invoke(app, ["jobs", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.output)
    assert [(j["kind"], j["status"]) for j in found] == [("audit.verify", "succeeded")]
    assert found[0]["result"]["ok"] is True
    text = runner.invoke(app, ["jobs", "list"]).output
    assert f"#{found[0]['id']} Nightly audit-trail check [succeeded] 100%" in text
    refused = runner.invoke(app, ["jobs", "retry", str(found[0]["id"])])
    assert refused.exit_code != 0 and "only a failed or cancelled job runs again" in refused.output
    missing = runner.invoke(app, ["jobs", "retry", "999"])
    assert missing.exit_code != 0 and "there is no job 999" in missing.output
    assert "no e-mail yet" in runner.invoke(app, ["jobs", "messages"]).output
