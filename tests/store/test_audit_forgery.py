"""The audit trail cannot be rewritten silently (issue 16, point 3).

The forgery is the one a sponsor's audit found: with write access to the database, edit a MADRS
total, rewrite its audit entry to match, recompute every hash after it and update
``audit_head``. With a plain SHA-256 chain that passed. Now each entry is an HMAC under a key
kept outside the database, and checkpoints kept outside it catch even a forger who holds the
key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from openpat.services.runtime import Actor, Platform
from openpat.store.audit import AuditKeys, Checkpoint, verify_chain
from openpat.store.models import AuditEvent
from tests.conftest import TEST_AUDIT_KEY, TEST_NOW, TEST_SECRET, clock_env
from tests.store.test_audit_chain import _openpat_exe

EVENTS = AuditEvent.__table__


def _content(row: dict[str, Any], prev: str) -> dict[str, Any]:
    """An entry's hashed content, written out independently of the store's own helper."""
    return {
        "at": row["at"].replace(tzinfo=None).isoformat(timespec="microseconds"),
        "actor_user_id": row["actor_user_id"],
        "actor": row["actor"],
        "action": row["action"],
        "table": row["table_name"],
        "record": row["record_id"],
        "field": row["field"],
        "old": row["old_value"],
        "new": row["new_value"],
        "reason": row["reason"],
        "study": row["study_id"],
        "participant": row["participant_id"],
        "sensitive": bool(row["sensitive"]),
        "prev": prev,
    }


def _plain(row: dict[str, Any], prev: str) -> str:
    blob = json.dumps(
        _content(row, prev), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _keyed(key: bytes) -> Any:
    def digest(row: dict[str, Any], prev: str) -> str:
        content = {**_content(row, prev), "key": row["key_id"]}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(key, blob.encode(), hashlib.sha256).hexdigest()

    return digest


def _madrs_total_entry(plat: Platform) -> tuple[int, str, str]:
    """(seq, record id, recorded total) of the audit entry of a MADRS total above 10."""
    with plat.engine.connect() as conn:
        ids = conn.execute(
            text(
                "SELECT id, total FROM instrument_responses "
                "WHERE instrument = 'madrs' AND total > 10 ORDER BY id"
            )
        ).all()
        assert ids, "the demo has MADRS ratings"
        for response_id, total in ids:
            seq = conn.scalar(
                select(EVENTS.c.seq).where(
                    EVENTS.c.table_name == "instrument_responses",
                    EVENTS.c.record_id == str(response_id),
                    EVENTS.c.field == "total",
                )
            )
            if seq is not None:
                return int(seq), str(response_id), str(total)
    raise AssertionError("no audited MADRS total")


def _forge(plat: Platform, digest: Any, *, drop_key: bool = False) -> int:
    """Edit the MADRS total to 3 and its audit entry to match, then recompute every hash
    after it with ``digest`` and move the head. Returns the edited entry's seq."""
    seq, record_id, _old_total = _madrs_total_entry(plat)
    with plat.engine.begin() as conn:
        conn.execute(
            text("UPDATE instrument_responses SET total = 3 WHERE id = :i"), {"i": int(record_id)}
        )
        conn.execute(text("UPDATE audit_events SET new_value = '3.0' WHERE seq = :s"), {"s": seq})
        rows = conn.execute(
            select(EVENTS).where(EVENTS.c.seq >= seq).order_by(EVENTS.c.seq)
        ).mappings()
        prev = conn.scalar(select(EVENTS.c.prev_hash).where(EVENTS.c.seq == seq))
        updates = []
        for row in rows:
            row = dict(row)
            if drop_key:
                row["key_id"] = None
            new_hash = digest(row, prev)
            updates.append((row["seq"], row["key_id"], prev, new_hash))
            prev = new_hash
        for s, key_id, p, h in updates:
            conn.execute(
                text(
                    "UPDATE audit_events SET key_id = :k, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"k": key_id, "p": p, "h": h, "s": s},
            )
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": updates[-1][0], "h": prev}
        )
    return seq


def _verify(plat: Platform, checkpoints: list[Checkpoint] | None = None) -> Any:
    with plat.uow(actor=Actor("auditor")) as uow:
        return uow.audit.verify(checkpoints or [])


def test_the_trail_is_signed_with_a_key_that_is_not_in_the_database(
    demo_platform: Platform,
) -> None:
    keys = demo_platform.settings.resolved_audit_keys
    result = _verify(demo_platform)
    assert result.ok and result.entries_checked > 1000
    with demo_platform.engine.connect() as conn:
        key_ids = set(conn.scalars(select(EVENTS.c.key_id).distinct()))
        dump = "\n".join(str(r) for r in conn.execute(select(EVENTS)).all())
    assert key_ids == {keys.current_id}
    assert TEST_AUDIT_KEY not in dump
    # the independent recomputation agrees with the stored hashes
    with demo_platform.engine.connect() as conn:
        first = dict(conn.execute(select(EVENTS).where(EVENTS.c.seq == 1)).mappings().one())
    assert _keyed(TEST_AUDIT_KEY.encode())(first, "0" * 64) == first["hash"]


def test_the_forged_rehash_is_caught_by_the_key(demo_platform: Platform) -> None:
    seq = _forge(demo_platform, _plain)
    result = _verify(demo_platform)
    assert not result.ok
    assert (result.problem.seq, result.problem.kind) == (seq, "edited")


def test_a_rehash_that_drops_the_key_is_caught(demo_platform: Platform) -> None:
    seq = _forge(demo_platform, _plain, drop_key=True)
    result = _verify(demo_platform)
    assert (result.problem.seq, result.problem.kind) == (seq, "unkeyed")


def test_a_forger_holding_the_key_is_caught_by_a_checkpoint(demo_platform: Platform) -> None:
    with demo_platform.uow(actor=Actor("auditor")) as uow:
        mark = uow.audit.checkpoint()
    assert mark.seq > 1000 and len(mark.hash) == 64
    _forge(demo_platform, _keyed(TEST_AUDIT_KEY.encode()))
    # the key alone cannot tell: the forger signed every entry with it
    assert _verify(demo_platform).ok
    result = _verify(demo_platform, [mark])
    assert (result.problem.seq, result.problem.kind) == (mark.seq, "checkpoint")
    assert "rewritten" in result.problem.message


def test_a_trail_cut_back_below_a_checkpoint_is_caught(demo_platform: Platform) -> None:
    with demo_platform.uow(actor=Actor("auditor")) as uow:
        mark = uow.audit.checkpoint()
    with demo_platform.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": mark.seq - 5})
        last = conn.scalar(select(EVENTS.c.hash).where(EVENTS.c.seq == mark.seq - 5))
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": mark.seq - 5, "h": last}
        )
    assert _verify(demo_platform).ok  # the head was moved back with it
    result = _verify(demo_platform, [mark])
    assert (result.problem.kind, result.problem.seq) == ("truncated", mark.seq - 4)


def test_a_rotated_key_still_verifies_older_entries(demo_platform: Platform) -> None:
    old = demo_platform.settings.resolved_audit_keys
    rotated = AuditKeys((b"a-newer-audit-key-that-is-long-enough-2027", *old.keys))
    with demo_platform.engine.connect() as conn:
        from sqlalchemy.orm import Session

        with Session(conn) as session:
            assert verify_chain(session, keys=rotated).ok
            # without the old key the old entries cannot be checked, and it says so
            alone = verify_chain(session, keys=AuditKeys((rotated.keys[0],)))
    assert alone.problem is not None and alone.problem.kind == "unknown-key"
    assert "keep the old keys" in alone.problem.message


def test_a_trail_from_before_keys_is_sealed_once_after_checking_it(
    demo_platform: Platform,
) -> None:
    """An older site's trail (plain SHA-256, no key id) is checked and signed by `db upgrade`;
    one that was already tampered with is refused, not sealed."""
    with demo_platform.engine.begin() as conn:
        rows = conn.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings().all()
        prev = "0" * 64
        for row in rows:  # the trail as an older openpat wrote it
            row = {**dict(row), "key_id": None}
            digest = _plain(row, prev)
            conn.execute(
                text(
                    "UPDATE audit_events SET key_id = NULL, prev_hash = :p, hash = :h "
                    "WHERE seq = :s"
                ),
                {"p": prev, "h": digest, "s": row["seq"]},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert _verify(demo_platform).problem.kind == "unkeyed"
    assert demo_platform.seal_audit_trail() == len(rows)
    assert _verify(demo_platform).ok
    assert demo_platform.seal_audit_trail() == 0


def test_an_unkeyed_trail_that_does_not_verify_is_not_sealed(demo_platform: Platform) -> None:
    with demo_platform.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET key_id = NULL WHERE seq = 5"))
    from openpat.errors import RuleViolation

    with pytest.raises(RuleViolation, match="cannot be sealed"):
        demo_platform.seal_audit_trail()


# -- the real command line --------------------------------------------------------------


def _run(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPAT_")}
    env.update(
        OPENPAT_DATABASE_URL=database_url,
        OPENPAT_ENV="test",
        OPENPAT_DATA_DIR=str(tmp_path / "cli-data"),
        OPENPAT_SECRET_KEY=TEST_SECRET,
        OPENPAT_AUDIT_KEY=TEST_AUDIT_KEY,
        OPENPAT_PASSWORD_HASH_PROFILE="fast",
        **clock_env(TEST_NOW),
        COLUMNS="250",
        NO_COLOR="1",
    )
    return subprocess.run(
        [_openpat_exe(), "audit", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_checkpoint_then_verify_catches_the_forger_with_the_key(
    demo_platform: Platform, database_url: str, tmp_path: Path
) -> None:
    marks = tmp_path / "checkpoints.jsonl"
    taken = _run(database_url, tmp_path, "checkpoint", "--out", str(marks))
    assert taken.returncode == 0, taken.stderr
    (line,) = marks.read_text().splitlines()
    mark = json.loads(line)
    assert set(mark) == {"seq", "hash", "at"} and mark["seq"] > 1000
    printed = _run(database_url, tmp_path, "checkpoint")
    assert json.loads(printed.stdout) == mark
    ok = _run(database_url, tmp_path, "verify", "--checkpoint", str(marks))
    assert ok.returncode == 0 and "extends 1 checkpoint" in ok.stdout, ok.stdout + ok.stderr

    _forge(demo_platform, _keyed(TEST_AUDIT_KEY.encode()))
    assert _run(database_url, tmp_path, "verify").returncode == 0
    caught = _run(database_url, tmp_path, "verify", "--checkpoint", str(marks))
    assert caught.returncode == 1
    assert f"audit trail broken at entry {mark['seq']} (checkpoint)" in caught.stderr
    assert "Traceback" not in caught.stderr

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": "many"}\n')
    refused = _run(database_url, tmp_path, "verify", "--checkpoint", str(bad))
    assert refused.returncode == 2 and "line 1 is not a checkpoint" in refused.stderr
    assert "Traceback" not in refused.stderr
