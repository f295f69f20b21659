"""Read, validate and cross-check the YAML files under ``knowledge/data/``.

Layout (one file per topic or entity)::

    manifest.yaml              version, release date, change log
    references.yaml            references: [...]           (the one bibliography)
    vocabulary.yaml            medication_classes: [...], substance_groups: [...]
    substances/<id>.yaml       substance: {...}
    medications/<topic>.yaml   medications: [...]
    interactions/<topic>.yaml  interactions: [...]
    instruments/<id>.yaml      instrument: {...}
    trials/<id>.yaml           trial: {...}
    combinations/<topic>.yaml  combinations: [...]   (rules over co-medications)
    protocols/<id>.yaml        protocol: {...}       (eligibility templates)

Every problem found is reported with the file, the entry and the field, and what was
expected; all problems are collected before raising, so a curator fixes them in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from openpat.errors import ConfigurationError
from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase
from openpat.knowledge.names import normalise

# libyaml's safe loader where PyYAML was built with it (about ten times faster on the
# knowledge data); the pure-Python safe loader otherwise. Both load the same safe subset.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class DataProblem:
    """One thing wrong in the data: where (file, entry, field) and what was expected."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.entry:
            where += f", entry {self.entry}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"


class KnowledgeDataError(ConfigurationError):
    """The knowledge data is malformed; ``problems`` lists every problem found."""

    code = "knowledge_data_error"

    def __init__(self, problems: Sequence[DataProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        count = len(self.problems)
        super().__init__(
            f"the knowledge data has {count} problem{'s' * (count != 1)}:\n{shown}{tail}"
        )


# section -> (top-level key, model, one entity per file?)
_SECTIONS: dict[str, tuple[str, type[s.Model], bool]] = {
    "substances": ("substance", s.Substance, True),
    "medications": ("medications", s.Medication, False),
    "interactions": ("interactions", s.Interaction, False),
    "instruments": ("instrument", s.Instrument, True),
    "trials": ("trial", s.Trial, True),
    "combinations": ("combinations", s.Combination, False),
    "protocols": ("protocol", s.Protocol, True),
}


def _loc_text(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _entry_name(raw: Any, index: int | None) -> str:
    label = ""
    if isinstance(raw, dict):
        for key in ("id", "generic", "name"):
            if isinstance(raw.get(key), str):
                label = repr(raw[key])
                break
    if index is None:
        return label
    return f"#{index + 1} {label}".strip()


def _describe(err: Any) -> str:
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    kind = err.get("type", "")
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field (check the spelling; see knowledge/schema.py)"
    if (
        "input" in err
        and kind not in ("model_type", "dict_type")
        and not isinstance(err["input"], dict)
    ):
        shown = repr(err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{message} (got {shown})"
    return message


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[DataProblem] = []
        self.digest = hashlib.sha256()
        # ids of entries that failed validation: already reported, so references to them
        # are not reported a second time as "unknown"
        self.failed_ids: set[str] = set()

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def problem(self, file: str, entry: str, field: str, message: str) -> None:
        self.problems.append(DataProblem(file, entry, field, message))

    def read(self, path: Path) -> Any:
        raw_bytes = path.read_bytes()
        self.digest.update(self.rel(path).encode() + b"\0" + raw_bytes + b"\0")
        try:
            # _SAFE_LOADER is a safe loader (libyaml's or PyYAML's own)
            return yaml.load(raw_bytes.decode("utf-8"), Loader=_SAFE_LOADER)  # noqa: S506
        except UnicodeDecodeError as exc:
            self.problem(self.rel(path), "", "", f"is not UTF-8 text ({exc.reason})")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            what = getattr(exc, "problem", None) or str(exc)
            self.problem(self.rel(path), "", "", f"is not valid YAML{where}: {what}")
        return None

    def mapping(self, path: Path, expected: set[str]) -> dict[str, Any] | None:
        data = self.read(path)
        if data is None and not self.problems_for(path):
            self.problem(self.rel(path), "", "", "is empty")
            return None
        if data is None:
            return None
        if not isinstance(data, dict):
            self.problem(
                self.rel(path),
                "",
                "",
                f"must be a mapping with the key(s) {', '.join(sorted(expected))}; "
                f"got a {type(data).__name__}",
            )
            return None
        unknown = sorted(set(data) - expected)
        for key in unknown:
            self.problem(
                self.rel(path),
                "",
                str(key),
                f"is not a top-level key of this file; expected {', '.join(sorted(expected))}",
            )
        return data

    def problems_for(self, path: Path) -> bool:
        return any(p.file == self.rel(path) for p in self.problems)

    def validate(
        self, model: type[s.Model], raw: Any, file: str, index: int | None, prefix: str = ""
    ) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            if isinstance(raw, dict):
                for key in ("id", "generic"):
                    if isinstance(raw.get(key), str):
                        self.failed_ids.add(raw[key])
            entry = _entry_name(raw, index)
            for err in exc.errors():
                field = _loc_text(err.get("loc", ()))
                self.problem(file, entry, f"{prefix}{field}", _describe(err))
            return None

    def entries(
        self, path: Path, key: str, model: type[s.Model], single: bool
    ) -> list[tuple[Any, str, str]]:
        """Validated entries of one file as (model, file, entry label)."""
        data = self.mapping(path, {key})
        if data is None or key not in data:
            if data is not None:
                self.problem(self.rel(path), "", "", f"needs the top-level key {key!r}")
            return []
        file = self.rel(path)
        raw = data[key]
        if single:
            found = self.validate(model, raw, file, None, prefix="")
            return [(found, file, _entry_name(raw, None))] if found is not None else []
        if not isinstance(raw, list):
            self.problem(file, "", key, f"must be a list of entries; got {type(raw).__name__}")
            return []
        out = []
        for index, item in enumerate(raw):
            found = self.validate(model, item, file, index)
            if found is not None:
                out.append((found, file, _entry_name(item, index)))
        return out


def _walk(model: BaseModel, path: str) -> Iterator[tuple[str, BaseModel]]:
    yield path, model
    for name in type(model).model_fields:
        value = getattr(model, name)
        sub = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel):
            yield from _walk(value, sub)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _walk(item, f"{sub}[{i}]")
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _walk(item, f"{sub}.{k}")
                elif isinstance(item, list):
                    for i, inner in enumerate(item):
                        if isinstance(inner, BaseModel):
                            yield from _walk(inner, f"{sub}.{k}[{i}]")


def citations(model: BaseModel) -> Iterator[tuple[str, str]]:
    """Every (field path, reference id) cited inside ``model``."""
    for path, node in _walk(model, ""):
        refs = getattr(node, "refs", None)
        if isinstance(refs, list):
            for i, ref in enumerate(refs):
                yield (f"{path}.refs[{i}]" if path else f"refs[{i}]"), ref


def load(data_dir: Path | str | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base; raise :class:`KnowledgeDataError` listing every
    problem (file, entry, field, expected) if anything is malformed or dangling."""
    root = Path(data_dir) if data_dir is not None else DATA_DIR
    if not root.is_dir():
        raise KnowledgeDataError([DataProblem(str(root), "", "", "is not a directory")])
    reader = _Reader(root)

    manifest = None
    manifest_path = root / "manifest.yaml"
    if manifest_path.exists():
        data = reader.mapping(manifest_path, {"manifest"})
        if data is not None and "manifest" in data:
            manifest = reader.validate(s.Manifest, data["manifest"], "manifest.yaml", None)
    else:
        reader.problem("manifest.yaml", "", "", "is missing; it holds the data version")

    references: dict[str, s.Reference] = {}
    ref_files = sorted(root.glob("references*.yaml"))
    if not ref_files:
        reader.problem("references.yaml", "", "", "is missing")
    for path in ref_files:
        for ref, file, entry in reader.entries(path, "references", s.Reference, False):
            if ref.id in references:
                reader.problem(file, entry, "id", f"reference id {ref.id!r} is used twice")
            references[ref.id] = ref

    classes: dict[str, s.MedicationClass] = {}
    groups: dict[str, s.SubstanceGroup] = {}
    vocab_path = root / "vocabulary.yaml"
    if vocab_path.exists():
        data = reader.mapping(vocab_path, {"medication_classes", "substance_groups"})
        vocab: list[tuple[str, type[s.Model], dict[str, Any]]] = [
            ("medication_classes", s.MedicationClass, classes),
            ("substance_groups", s.SubstanceGroup, groups),
        ]
        for key, vocab_model, target in vocab:
            raw_list = (data or {}).get(key) or []
            if not isinstance(raw_list, list):
                reader.problem("vocabulary.yaml", "", key, "must be a list")
                continue
            for position, raw in enumerate(raw_list):
                item = reader.validate(
                    vocab_model, raw, "vocabulary.yaml", position, prefix=f"{key}."
                )
                if item is not None:
                    if item.id in target:
                        reader.problem("vocabulary.yaml", repr(item.id), "id", "is used twice")
                    target[item.id] = item
    else:
        reader.problem("vocabulary.yaml", "", "", "is missing")

    loaded: dict[str, list[tuple[Any, str, str]]] = {}
    for section, (key, model, single) in _SECTIONS.items():
        loaded[section] = []
        for path in sorted((root / section).glob("*.yaml")):
            found = reader.entries(path, key, model, single)
            if single:
                for item, file, entry in found:
                    if path.stem != item.id:
                        reader.problem(
                            file, entry, "id", f"must match the file name ({path.stem!r})"
                        )
            loaded[section].extend(found)
        for stray in sorted((root / section).glob("*")):
            if stray.is_file() and stray.suffix != ".yaml":
                reader.problem(reader.rel(stray), "", "", "is not a .yaml file; rename it")

    def by_id(section: str, attr: str = "id") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item, file, entry in loaded[section]:
            key_value = getattr(item, attr)
            if key_value in out:
                reader.problem(file, entry, attr, f"{key_value!r} is defined twice")
            out[key_value] = item
        return out

    substances = by_id("substances")
    medications = by_id("medications")
    interactions = by_id("interactions")
    instruments = by_id("instruments")
    trials = by_id("trials")
    combinations = by_id("combinations")
    protocols = by_id("protocols")

    # every cited id exists
    everything: list[tuple[Any, str, str]] = [
        item for section in loaded.values() for item in section
    ]
    for item, file, entry in everything:
        for field, ref in citations(item):
            if ref not in references and ref not in reader.failed_ids:
                reader.problem(
                    file, entry, field, f"cites {ref!r}, which is not in references.yaml"
                )

    # vocabulary: classes, groups, substances, medications, instruments all exist
    for cls in classes.values():
        for parent in cls.parents:
            if parent not in classes:
                reader.problem("vocabulary.yaml", repr(cls.id), "parents", f"unknown {parent!r}")

    def known(
        values: list[str], pool: dict[str, Any], what: str, file: str, entry: str, field: str
    ) -> None:
        for i, value in enumerate(values):
            if value not in pool and value not in reader.failed_ids:
                reader.problem(
                    file,
                    entry,
                    f"{field}[{i}]",
                    f"{value!r} is not a known {what} (see {_where(what)})",
                )

    for item, file, entry in loaded["medications"]:
        known(item.classes, classes, "medication class", file, entry, "classes")
    for item, file, entry in loaded["substances"]:
        known(item.groups, groups, "substance group", file, entry, "groups")
    for item, file, entry in loaded["interactions"]:
        known(item.substances, substances, "substance", file, entry, "substances")
        known(item.substance_groups, groups, "substance group", file, entry, "substance_groups")
        known(
            item.medication_classes, classes, "medication class", file, entry, "medication_classes"
        )
        known(item.medications, medications, "medication", file, entry, "medications")
    for item, file, entry in loaded["trials"]:
        known([item.substance], substances, "substance", file, entry, "substance")
        instruments_used = [item.primary_outcome.instrument]
        instruments_used += [r.instrument for r in item.results if r.instrument]
        known(instruments_used, instruments, "instrument", file, entry, "instrument")

    for item, file, entry in loaded["combinations"]:
        known(item.substances, substances, "substance", file, entry, "substances")
        known(item.substance_groups, groups, "substance group", file, entry, "substance_groups")
        for i, needed in enumerate(item.requires):
            where = f"requires[{i}]."
            known(
                needed.medication_classes,
                classes,
                "medication class",
                file,
                entry,
                where + "medication_classes",
            )
            known(needed.medications, medications, "medication", file, entry, where + "medications")
    for item, file, entry in loaded["protocols"]:
        known([item.substance], substances, "substance", file, entry, "substance")
        known(item.modelled_on, trials, "trial", file, entry, "modelled_on")
        for i, rule in enumerate(item.washout_rules):
            where = f"washout_rules[{i}]."
            known(
                rule.medication_classes,
                classes,
                "medication class",
                file,
                entry,
                where + "medication_classes",
            )
            known(rule.medications, medications, "medication", file, entry, where + "medications")
    for cls in classes.values():
        for risk in cls.discontinuation:
            for ref in risk.refs:
                if ref not in references:
                    reader.problem(
                        "vocabulary.yaml",
                        repr(cls.id),
                        "discontinuation.refs",
                        f"cites {ref!r}, which is not in references.yaml",
                    )

    # a brand or synonym names one generic only
    names: dict[str, tuple[str, str]] = {}
    for item, file, entry in loaded["medications"]:
        for kind, name in (
            [("generic", item.generic)]
            + [("brand", b) for b in item.brands]
            + [("synonym", x) for x in item.synonyms]
        ):
            key_name = normalise(name)
            owner = names.get(key_name)
            if owner is not None and owner[0] != item.id:
                reader.problem(
                    file,
                    entry,
                    "brands" if kind == "brand" else kind,
                    f"{name!r} already names {owner[0]!r} ({owner[1]}); a name must point to "
                    "one generic",
                )
            names.setdefault(key_name, (item.id, kind))

    if reader.problems:
        raise KnowledgeDataError(reader.problems)
    assert manifest is not None
    return KnowledgeBase(
        manifest=manifest,
        content_hash=reader.digest.hexdigest(),
        references=references,
        medication_classes=classes,
        substance_groups=groups,
        substances=substances,
        medications=medications,
        interactions=interactions,
        instruments=instruments,
        trials=trials,
        combinations=combinations,
        protocols=protocols,
    )


def _where(what: str) -> str:
    return {
        "medication class": "vocabulary.yaml medication_classes",
        "substance group": "vocabulary.yaml substance_groups",
        "substance": "substances/",
        "medication": "medications/",
        "instrument": "instruments/",
        "trial": "trials/",
    }.get(what, "the data")
