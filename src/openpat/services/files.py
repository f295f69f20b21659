"""Files people name on the command line: read as text, written all or nothing.

Every problem is an :class:`InvalidInput` naming the option, so the CLI prints one red line: a
file that is missing, empty, not UTF-8 or not a file; an output that names a directory or has
an extension contradicting ``--format``. An output is written beside its name and renamed into
place, and the partial file is removed if anything fails, so it appears whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openpat.errors import InvalidInput

# The table formats and the extensions that mean each.
TABLE_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
}


def read_text(path: Path, option: str, *, what: str = "file") -> str:
    """The text of a UTF-8 file; refused (naming ``option``) if missing, empty or not text."""
    if path.is_dir():
        raise InvalidInput.for_field(option, f"{path} is a directory; name the {what}")
    if not path.is_file():
        raise InvalidInput.for_field(option, f"{path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput.for_field(
            option, f"{path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise InvalidInput.for_field(
            option, f"{path.name} cannot be read: {exc.strerror or exc}"
        ) from None
    if not text.strip():
        raise InvalidInput.for_field(option, f"{path.name} is empty")
    return text


def output_format(out: Path | None, given: str | None, allowed: tuple[str, ...]) -> str:
    """The format of an output: its file's extension decides, and a ``--format`` that says
    otherwise is refused; with no file, ``--format`` or the first of ``allowed``."""
    if out is None:
        return given or allowed[0]
    implied = TABLE_EXTENSIONS.get(out.suffix.lower())
    if implied is None or implied not in allowed:
        names = ", ".join(sorted(e for e, f in TABLE_EXTENSIONS.items() if f in allowed))
        raise InvalidInput.for_field("--out", f"{out.name}: use a file ending {names}")
    if given is not None and given != implied:
        raise InvalidInput.for_field(
            "--format",
            f"--format {given} contradicts {out.name}, which is {implied}; "
            "leave --format out or name a matching file",
        )
    return implied


def check_output(out: Path) -> None:
    """Refuse, before any work is done, an output that cannot be a file."""
    if out.is_dir():
        raise InvalidInput.for_field("--out", f"{out} is a directory; name a file to write")
    if out.parent.exists() and not out.parent.is_dir():
        raise InvalidInput.for_field("--out", f"{out.parent} is not a directory")


def write_whole(out: Path, write: Callable[[Path], None]) -> None:
    """Write ``out`` all or nothing: ``write`` fills a partial file that is renamed into
    place; on any failure the partial file is removed and the error names ``--out``."""
    check_output(out)
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInput.for_field(
            "--out", f"cannot write {out}: {exc.strerror or exc}"
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
