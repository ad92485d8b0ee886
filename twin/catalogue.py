"""The catalogue of twins: named laws and ODEs, Feynman (100 + 20 bonus), Strogatz, ODEBench, fields and PDEs.

``get_twin(name)`` builds a fresh twin each call, so callers never share mutable state.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from twin.algebraic import ExpressionTwin
from twin.core import Parameter, Twin, Variable
from twin.expressions import parse_expression
from twin.fields import field_twins
from twin.pde_catalogue import PDES
from twin.systems import LAWS, ODES, OdeSpec

Factory = Callable[[], Twin]


def _data_text(name: str) -> str:
    return resources.files("twin").joinpath("data", name).read_text(encoding="utf-8-sig")


def feynman_name(equation_id: str, bonus: bool = False) -> str:
    """Catalogue name of a Feynman equation: ``I.16.6`` -> ``feynman_I_16_6``, bonus ``test_3`` -> ``feynman_bonus_3``."""
    if bonus:
        return "feynman_bonus_" + equation_id.removeprefix("test_")
    return "feynman_" + equation_id.replace(".", "_")


def _unit(text: str) -> str:
    """``'Velocity, m^1 * s^(-1)'`` -> ``'m^1 * s^(-1)'``; dimensionless -> ``''``."""
    unit = text.split(",")[-1].strip()
    return "" if unit.lower() == "dimensionless" else unit


def _feynman_factory(row: dict[str, str], units: dict | None, bonus: bool, known_as: dict | None = None) -> Factory:
    """``known_as``: the law's common name and aliases (``data/feynman_names.json``), where it has them."""
    equation_id = row["Filename"]
    # The "# variables" column is wrong in a few rows (I.18.12, I.18.14): count the named columns.
    names = [row[f"v{i}_name"] for i in range(1, 11) if (row.get(f"v{i}_name") or "").strip()]
    feature_units = (units or {}).get("features", {})
    output = row["Output"]
    target_unit = _unit(units["target"]) if units else ""

    def build() -> ExpressionTwin:
        inputs = [
            Variable(n, _unit(feature_units.get(n, "")), float(row[f"v{i}_low"]), float(row[f"v{i}_high"]))
            for i, n in enumerate(names, start=1)
        ]
        formula = row["Formula"].replace("~", "-")
        title = row.get("Name") or f"Feynman {equation_id}"
        common = f" ({known_as['name']})" if known_as and known_as["name"].lower() not in title.lower() else ""
        return ExpressionTwin(
            name=feynman_name(equation_id, bonus), description=f"{title}{common}: {output} = {formula}",
            kind="algebraic", inputs=inputs, outputs=[Variable(output, target_unit)],
            expressions={output: parse_expression(formula, names)},
            group="feynman_bonus" if bonus else "feynman",
            keywords=tuple(w.lower() for w in re.findall(r"[A-Za-z]{4,}", title)),
            aliases=tuple(known_as["aliases"]) if known_as else (),
        )

    return build


def _feynman_factories() -> dict[str, Factory]:
    units = json.loads(_data_text("feynman_units.json"))
    known_as = json.loads(_data_text("feynman_names.json"))
    factories = {}
    for file_name, bonus in (("feynman.csv", False), ("feynman_bonus.csv", True)):
        for row in csv.DictReader(_data_text(file_name).splitlines()):
            key = row["Filename"].replace(".", "_")
            # The CSV lost a trailing zero of I.15.10 (spreadsheet number formatting); the units file has it.
            entry = units.get(key) or units.get(key + "0")
            factories[feynman_name(row["Filename"], bonus)] = _feynman_factory(
                row, entry, bonus, known_as.get(row["Filename"]))
    return factories


# Initial-condition ranges for the Strogatz systems (PMLB gives none), kept away from singularities.
_STROGATZ_RANGES = {
    "bacres": ((5.0, 20.0), (5.0, 15.0)),
    "barmag": ((-2.0, 2.0), (-2.0, 2.0)),
    "glider": ((2.0, 5.0), (-1.0, 1.0)),
    "lv": ((0.5, 3.0), (0.5, 3.0)),
    "predprey": ((0.5, 4.0), (0.5, 4.0)),
    "shearflow": ((-1.0, 1.0), (0.3, 2.8)),
    "vdp": ((-2.0, 2.0), (-1.0, 1.0)),
}


def _strogatz_specs() -> list[OdeSpec]:
    entries = json.loads(_data_text("strogatz_pmlb.json"))
    equations: dict[str, dict[str, str]] = {}
    for entry in entries:
        system = entry["dataset"].removeprefix("strogatz_")[:-1]
        state, rhs = entry["description"][1].split("=", 1)
        equations.setdefault(system, {})[state.strip().rstrip("'")] = rhs.strip()
    return [
        OdeSpec(
            f"strogatz_{system}", f"Strogatz {system}: " + "; ".join(f"{s}' = {e}" for s, e in eqs.items()),
            tuple(Variable(s, "", *_STROGATZ_RANGES[system][i]) for i, s in enumerate(eqs)),
            tuple(eqs.values()), group="strogatz", keywords=("strogatz", system),
        )
        for system, eqs in equations.items()
    ]


def _odebench_specs() -> list[OdeSpec]:
    specs = []
    for entry in json.loads(_data_text("odebench.json")):
        dim = entry["dim"]
        equations = tuple(e.strip().replace("^", "**") for e in entry["eq"].split("|"))
        constants = entry["consts"][0]
        inits = entry["init"]
        states = []
        for i in range(dim):
            values = [init[i] for init in inits]
            low, high = min(values), max(values)
            pad = 0.05 * (high - low) if high > low else 0.0
            states.append(Variable(f"x_{i}", "", low - pad, high + pad))
        specs.append(OdeSpec(
            f"odebench_{entry['id']}", entry["eq_description"], tuple(states), equations,
            tuple(Parameter(f"c_{j}", float(c)) for j, c in enumerate(constants)),
            group="odebench", keywords=tuple(w.lower() for w in re.findall(r"[A-Za-z]{4,}", entry["eq_description"])),
        ))
    return specs


def _odebench_reference_x0() -> dict[str, list[list[float]]]:
    return {f"odebench_{e['id']}": e["init"] for e in json.loads(_data_text("odebench.json"))}


@lru_cache(maxsize=1)
def _factories() -> dict[str, Factory]:
    factories: dict[str, Factory] = {spec.name: spec.build for spec in LAWS}
    factories.update({spec.name: spec.build for spec in ODES})
    factories.update({twin.name: _field_factory(twin.name) for twin in field_twins()})
    factories.update({spec.name: spec.build for spec in PDES})
    factories.update(_feynman_factories())
    factories.update({spec.name: spec.build for spec in _strogatz_specs()})
    reference = _odebench_reference_x0()
    for spec in _odebench_specs():
        factories[spec.name] = _with_reference_x0(spec, reference[spec.name])
    return factories


def _field_factory(name: str) -> Factory:
    return lambda: next(t for t in field_twins() if t.name == name)


def _with_reference_x0(spec: OdeSpec, x0: list[list[float]]) -> Factory:
    def build() -> Twin:
        twin = spec.build()
        twin.reference_x0 = [list(map(float, row)) for row in x0]
        return twin

    return build


def twin_names() -> list[str]:
    """All catalogue names, in catalogue order."""
    return list(_factories())


def get_twin(name: str) -> Twin:
    """A fresh twin by catalogue name (or alias); unknown names list close matches."""
    factories = _factories()
    if name in factories:
        return factories[name]()
    lowered = name.strip().lower()
    for alias_owner in (*LAWS, *ODES, *field_twins(), *PDES):
        if lowered in alias_owner.aliases:
            return factories[alias_owner.name]()
    close = difflib.get_close_matches(lowered.replace(" ", "_"), list(factories), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `twinsight twins` for the list"
    raise KeyError(f"no twin named {name!r} in the catalogue{hint}")


def all_twins() -> list[Twin]:
    """Every catalogue twin, freshly built."""
    return [factory() for factory in _factories().values()]


@dataclass(frozen=True)
class Entry:
    """What the catalogue says of a twin, without building it: what goals are matched against."""

    name: str
    kind: str
    group: str
    description: str
    aliases: tuple[str, ...]
    keywords: tuple[str, ...]


@lru_cache(maxsize=1)
def catalogue_entries() -> tuple[Entry, ...]:
    """Every catalogue twin's entry, in catalogue order. Built once per process (building every twin takes about
    0.4 s, and the catalogue is fixed); the entries are immutable, so nothing a run does reaches the next."""
    return tuple(Entry(t.name, t.kind, t.group, t.description, tuple(t.aliases), tuple(t.keywords))
                 for t in all_twins())
