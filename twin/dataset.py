"""``Dataset``: simulated or measured arrays with their provenance, saved as ``.npz`` + JSON header."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


@dataclass
class Dataset:
    """Arrays plus provenance.

    Tabular data (algebraic and data twins) keeps ``arrays["X"]`` (n, d) and ``arrays["y"]`` (n, k);
    ODE twins keep ``t`` (T,), ``states`` (B, T, S) and ``x0`` (B, S); field twins keep ``x`` (L,),
    ``t`` (T,) and ``u`` (B, T, L) plus their per-run inputs in ``X``.
    """

    twin: str
    kind: str
    arrays: dict[str, np.ndarray]
    input_names: list[str]
    output_names: list[str]
    units: dict[str, str] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=lambda: {"sigma": 0.0, "model": "gaussian"})
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def X(self) -> np.ndarray:
        return self.arrays["X"]

    @property
    def y(self) -> np.ndarray:
        return self.arrays["y"]

    @property
    def n_samples(self) -> int:
        first = self.arrays.get("X", self.arrays.get("states"))
        return 0 if first is None else int(first.shape[0])

    def header(self) -> dict[str, Any]:
        """The JSON header (without the hash)."""
        return {
            "format": FORMAT_VERSION,
            "twin": self.twin,
            "kind": self.kind,
            "input_names": self.input_names,
            "output_names": self.output_names,
            "units": self.units,
            "params": self.params,
            "noise": self.noise,
            "seed": self.seed,
            "meta": self.meta,
            "arrays": {k: [list(v.shape), str(v.dtype)] for k, v in sorted(self.arrays.items())},
        }

    @property
    def content_hash(self) -> str:
        """SHA-256 over the header and the raw bytes of every array."""
        digest = hashlib.sha256(json.dumps(self.header(), sort_keys=True).encode())
        for key in sorted(self.arrays):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.arrays[key]).tobytes())
        return digest.hexdigest()

    def save(self, directory: str | Path, stem: str) -> Path:
        """Write ``stem.npz`` and ``stem.json``; return the JSON path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / f"{stem}.npz", **self.arrays)
        header = self.header() | {"sha256": self.content_hash, "arrays_file": f"{stem}.npz"}
        path = directory / f"{stem}.json"
        path.write_text(json.dumps(header, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read a dataset saved by :meth:`save`; a changed file fails the hash check."""
        path = Path(path)
        try:
            header = json.loads(path.read_text())
            with np.load(path.parent / header["arrays_file"], allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"cannot read dataset {path}: {error}") from None
        dataset = cls(
            twin=header["twin"],
            kind=header["kind"],
            arrays=arrays,
            input_names=header["input_names"],
            output_names=header["output_names"],
            units=header["units"],
            params=header["params"],
            noise=header["noise"],
            seed=header["seed"],
            meta=header["meta"],
        )
        if dataset.content_hash != header.get("sha256"):
            raise ValueError(f"dataset {path} does not match its recorded hash: the file was altered")
        return dataset
