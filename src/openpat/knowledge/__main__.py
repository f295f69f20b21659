"""``python -m openpat.knowledge [--only PREFIX ...]``: validate the knowledge data and print
every problem (file, entry, field, expected), or a summary when it is clean."""

from __future__ import annotations

import sys

from openpat.knowledge.loader import DATA_DIR, KnowledgeDataError, load


def main(argv: list[str]) -> int:
    only = [a for a in argv if not a.startswith("-")]
    try:
        kb = load(DATA_DIR)
    except KnowledgeDataError as exc:
        problems = [p for p in exc.problems if not only or any(p.file.startswith(o) for o in only)]
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) shown of {len(exc.problems)}", file=sys.stderr)
        return 1 if problems else 0
    print(kb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
