"""Transcribe the SRSD-Feynman benchmark (Matsubara et al. 2022) into ``benchmarks/data/srsd_feynman.json``.

Run once against a checkout of github.com/omron-sinicx/srsd-benchmark (MIT licence):

    python -m benchmarks.srsd_convert PATH/TO/srsd-benchmark

Each equation class of ``datasets/feynman.py`` gives its equation (``self.sympy_eq``), its inputs' names (the
docstring's ``x[i]: name`` lines) and samplers (``DefaultSampling``: log-uniform between the bounds, each sign with
probability ½ unless one is excluded; ``SimpleSampling``: uniform; ``IntegerSampling``: integers); the tier comes
from ``configs/datasets/feynman/{easy,medium,hard}_set.yaml``. The source is read with Python's ``ast`` module —
nothing of it is executed — and every equation is written as text the project's safe parser reads, with the
module's physical constants written out as numbers.
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
from pathlib import Path

from twin.expressions import FUNCTIONS, parse_expression

OUT = Path(__file__).parent / "data" / "srsd_feynman.json"
SAMPLERS = {"DefaultSampling": "log", "SimpleSampling": "uniform", "IntegerSampling": "integer"}


class _Rewrite(ast.NodeTransformer):
    """x[i] → the input's name, sympy.f → f, a module constant → its value."""

    def __init__(self, names: list[str], constants: dict[str, float]):
        self.names, self.constants = names, constants

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "x" and isinstance(node.slice, ast.Constant):
            return ast.Name(self.names[node.slice.value])
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "sympy":
            return ast.Name(node.attr)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Constant(self.constants[node.id]) if node.id in self.constants else node


def _names(doc: str, count: int) -> list[str]:
    """The inputs' names from the docstring, x{i} where one is missing or not a plain identifier the parser takes."""
    found = dict(re.findall(r"x\[(\d+)\]: (\w+)", doc))
    names = []
    for i in range(count):
        name = found.get(str(i), f"x{i}")
        if not name.isidentifier() or keyword.iskeyword(name) or name in FUNCTIONS or name in ("pi", "E", "I") or name in names:
            name = f"x{i}"
        names.append(name)
    return names


def _sampler(call: ast.Call) -> dict:
    kind = SAMPLERS[call.func.id]
    # bounds such as np.pi / 2 are read by the safe parser, not evaluated as Python
    low, high = (float(parse_expression(ast.unparse(a).replace("np.pi", "pi"), [])) for a in call.args[:2])
    flags = {k.arg: bool(ast.literal_eval(k.value)) for k in call.keywords}
    return {"kind": kind, "low": low, "high": high, "positive": flags.get("uses_positive", True),
            "negative": flags.get("uses_negative", True)}


def convert(repo: Path) -> dict:
    tree = ast.parse((repo / "datasets" / "feynman.py").read_text())
    constants = {t.id: float(ast.literal_eval(node.value)) for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)}
    tiers = {}
    for tier in ("easy", "medium", "hard"):
        text = (repo / "configs" / "datasets" / "feynman" / f"{tier}_set.yaml").read_text()
        tiers |= {name: tier for name in re.findall(r"^(Feynman\w+):", text, re.MULTILINE)}
    equations = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in tiers):
        init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
        samplers = law = None
        for node in ast.walk(init):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id == "sampling_objs" and isinstance(node.value, ast.List):
                samplers = [_sampler(call) for call in node.value.elts]
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute) \
                    and node.targets[0].attr == "sympy_eq":
                law = node.value
        eq_name = next(ast.literal_eval(n.value) for n in cls.body if isinstance(n, ast.Assign)
                       and isinstance(n.targets[0], ast.Name) and n.targets[0].id == "_eq_name")
        names = _names(ast.get_docstring(cls) or "", len(samplers))
        text = ast.unparse(_Rewrite(names, constants).visit(law))
        parse_expression(text, names)  # every equation must read back through the safe parser
        equations.append({"id": eq_name.removeprefix("feynman-").replace(".", "_"), "tier": tiers[cls.name],
                          "law": text, "inputs": dict(zip(names, samplers))})
    return {"about": "SRSD-Feynman (Matsubara et al. 2022, arXiv:2206.10540), transcribed from "
                     "github.com/omron-sinicx/srsd-benchmark (MIT licence) by benchmarks/srsd_convert.py",
            "equations": equations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a checkout of omron-sinicx/srsd-benchmark")
    suite = convert(parser.parse_args().repo)
    OUT.write_text(json.dumps(suite, indent=1) + "\n")
    print(f"{len(suite['equations'])} equations written to {OUT}")


if __name__ == "__main__":
    main()
