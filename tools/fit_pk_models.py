"""Fit openpat's 'fitted' PK/PD models to their published validation targets.

Usage: python tools/fit_pk_models.py [model-id ...] [--write]

Free parameters are those citing `openpat-fit`; the objective is the relative error to each
held target (zero inside a published range), on a log scale of the parameters. With --write
the fitted values replace the old ones in the substance's YAML file. The validation tests
(tests/reference/test_pk_validation.py) then hold every target within 20 %.
"""

from __future__ import annotations

import argparse
import re
import sys

import numpy as np
from scipy.optimize import least_squares, minimize

from openpat import knowledge
from openpat.knowledge.loader import DATA_DIR
from openpat.pharmacology import library, validation


def fit(entry: library.ModelEntry) -> dict[str, float]:
    model = entry.model
    free = [p for p in model.parameters if "openpat-fit" in p.refs]
    targets = [t for t in model.validation if t.held]
    x0 = np.log([p.value for p in free])

    def build(x: np.ndarray) -> library.ModelEntry:
        params = [
            p.model_copy(update={"value": float(np.exp(x[free.index(p)]))}) if p in free else p
            for p in model.parameters
        ]
        return library.ModelEntry(
            entry.substance, entry.route, model.model_copy(update={"parameters": params})
        )

    def residuals(x: np.ndarray) -> np.ndarray:
        try:
            sim = library.build(build(x))
            return np.array([c.relative_error for c in validation.check(sim, targets)])
        except Exception:  # parameters outside the plausible limits
            return np.full(len(targets), 10.0)

    # least squares first, then minimise the worst relative error (every row must hold)
    start = least_squares(residuals, x0, method="trf", diff_step=1e-3, max_nfev=400).x
    result = minimize(
        lambda x: float(np.abs(residuals(x)).max()),
        start,
        method="Nelder-Mead",
        options={"maxfev": 3000, "xatol": 1e-4, "fatol": 1e-5},
    )
    worst = np.abs(residuals(result.x)).max()
    print(f"{model.id}: worst relative error {worst:.3f} after {result.nfev} evaluations")
    return {p.name: float(f"{np.exp(v):.4g}") for p, v in zip(free, result.x, strict=True)}


def write(entry: library.ModelEntry, values: dict[str, float]) -> None:
    path = DATA_DIR / "substances" / f"{entry.substance}.yaml"
    text = path.read_text()
    start = text.index(f"id: {entry.model.id}")
    end = text.find("\n        - id:", start)
    end = len(text) if end < 0 else end
    block = text[start:end]
    for name, value in values.items():
        block = re.sub(
            rf"(\{{name: {re.escape(name)}, value: )[-0-9.eE+]+", rf"\g<1>{value:g}", block
        )
    path.write_text(text[:start] + block + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    kb = knowledge.load()
    for entry in library.entries(kb):
        if entry.model.method != "fitted" or (args.models and entry.model.id not in args.models):
            continue
        values = fit(entry)
        print("  ", values)
        if args.write:
            write(entry, values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
