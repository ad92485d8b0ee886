"""Data twins: a user's measurements from a CSV, validated with one-line errors that say what to fix."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from twin.core import Twin, Variable
from twin.dataset import Dataset

MAX_CSV_BYTES = 50 * 1024 * 1024
#: A header cell "name [unit]" or "name (unit)" (a space before the parenthesis: "x(t)" is a name).
HEADER_UNIT = re.compile(r"^(?P<name>.*?)(?:\s*\[\s*(?P<bracket>[^\]]*?)\s*\]|\s+\(\s*(?P<paren>[^)]*?)\s*\))\s*$")


class CsvError(ValueError):
    """A CSV that cannot serve as a data twin; the message says what to fix."""


@dataclass
class DataTwin(Twin):
    """Measured data: it cannot simulate new points, only hand back what was measured."""

    data: Dataset | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.kind = "data"

    def simulate(self, X: np.ndarray | None = None, **_: object) -> Dataset:
        """Return the measurements; asking for new inputs is an error (a data twin cannot simulate)."""
        if X is not None:
            raise ValueError(f"data twin {self.name!r} cannot simulate new inputs; it holds measurements only")
        assert self.data is not None
        return self.data


def from_csv(
    path: str | Path,
    target: str,
    inputs: Sequence[str] | None = None,
    name: str | None = None,
    units: Mapping[str, str] | None = None,
) -> DataTwin:
    """Wrap a CSV of measurements: ``target`` is the column to explain, ``inputs`` the columns to use
    (default: every other column). A header cell may carry its unit, ``P [Pa]`` or ``P (Pa)``: the column is then
    named ``P`` with unit Pa; ``units`` (column name -> unit) adds or overrides units. Columns may be named either
    way (``P`` or ``P [Pa]``)."""
    path = Path(path)
    if not path.is_file():
        raise CsvError(f"CSV file {path} does not exist")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise CsvError(f"CSV file {path} is larger than {MAX_CSV_BYTES // 2**20} MiB")
    frame = _read(path)
    raw = [str(c).strip() for c in frame.columns]
    if len(raw) < 2:
        raise CsvError(f"{path.name}: need a header row with at least two column names (inputs and a target), "
                       f"got {raw}")
    columns, header_units = zip(*(split_header(c) for c in raw)) if raw else ((), ())
    columns = list(columns)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise CsvError(f"{path.name}: duplicate column names {duplicates}; give each column a unique name")
    frame.columns = columns
    by_header = dict(zip(raw, columns))

    def column(text: str) -> str:
        text = str(text).strip()
        return by_header.get(text, split_header(text)[0])

    target = column(target)
    if target not in columns:
        raise CsvError(f"{path.name}: no target column {target!r}; columns are {columns}")
    inputs = [c for c in columns if c != target] if inputs is None else [column(c) for c in inputs]
    missing = [c for c in inputs if c not in columns]
    if missing:
        raise CsvError(f"{path.name}: input columns {missing} not found; columns are {columns}")
    if not inputs:
        raise CsvError(f"{path.name}: no input columns besides the target {target!r}")
    if target in inputs:
        raise CsvError(f"{path.name}: the target {target!r} cannot also be an input")
    unknown = sorted(set(units or {}) - set(columns))
    if unknown:
        raise CsvError(f"{path.name}: units given for {unknown}, which are not columns; columns are {columns}")
    unit_of = {c: u for c, u in zip(columns, header_units) if u} | {column(c): u for c, u in (units or {}).items()}
    used = frame[inputs + [target]].dropna(how="all")
    if used.empty:
        raise CsvError(f"{path.name}: no data rows; the file holds only a header or empty rows")
    values = _numeric(used, path.name)
    if len(values) <= len(inputs):
        raise CsvError(f"{path.name}: {len(values)} rows for {len(inputs)} inputs; need more rows than inputs")
    X, y = values[:, :-1], values[:, -1:]
    stem = name or path.stem
    dataset = Dataset(
        twin=stem, kind="data", arrays={"X": X, "y": y}, input_names=list(inputs), output_names=[target],
        units={c: unit_of[c] for c in [*inputs, target] if c in unit_of}, meta={"source": path.name},
    )
    return DataTwin(
        name=stem,
        description=f"measurements from {path.name}: {target} against {', '.join(inputs)}",
        kind="data",
        inputs=[Variable(c, unit_of.get(c, ""), float(X[:, i].min()), float(X[:, i].max()))
                for i, c in enumerate(inputs)],
        outputs=[Variable(target, unit_of.get(target, ""), float(y.min()), float(y.max()))],
        group="data",
        data=dataset,
    )


def split_header(text: str) -> tuple[str, str]:
    """A header cell's column name and unit: ``"P [Pa]"`` → ``("P", "Pa")``, ``"P"`` → ``("P", "")``."""
    found = HEADER_UNIT.match(text)
    if not found or not found["name"]:
        return text, ""
    return found["name"], found["bracket"] if found["bracket"] is not None else found["paren"]


def _read(path: Path) -> pd.DataFrame:
    """All cells as text with the header row kept raw, so duplicate names are seen, not renamed."""
    if path.stat().st_size == 0 or not path.read_bytes().strip():
        raise CsvError(f"{path.name}: the file is empty")
    try:
        sample = path.read_bytes()[:65536].decode("utf-8-sig")
        try:  # only the separators tables use (an unrestricted sniffer took the letter of a one-column header)
            separator = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:  # one column, or no separator it can tell
            separator = ","
        raw = pd.read_csv(path, sep=separator, header=None, dtype=str, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, csv.Error) as error:
        raise CsvError(f"{path.name}: not a readable CSV ({str(error).splitlines()[0]})") from None
    header = ["" if pd.isna(c) else c for c in raw.iloc[0]]
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame


def _numeric(frame: pd.DataFrame, file_name: str) -> np.ndarray:
    """Every cell as a finite float, or a CsvError naming the first offending cell."""
    values = np.empty(frame.shape, dtype=float)
    for j, column in enumerate(frame.columns):
        converted = pd.to_numeric(frame.iloc[:, j].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(converted)
        if bad.any():
            row = int(np.argmax(bad))
            cell = frame.iloc[row, j]
            raise CsvError(
                f"{file_name}: column {column!r} row {row + 2} holds {cell!r}, not a finite number; "
                "fix or remove that row"
            )
        values[:, j] = converted
    return values
