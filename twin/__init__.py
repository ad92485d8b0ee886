"""ЦД — the digital-twin layer: simulators, the catalogue, safe expressions and datasets.

Knows nothing of learning or LLMs. Ground truths live on twins for verification and benchmarks only.
"""

from twin.algebraic import ExpressionTwin, from_expression
from twin.catalogue import all_twins, catalogue_entries, feynman_name, get_twin, twin_names
from twin.core import Parameter, SimulationError, Twin, Variable, resolve_device
from twin.dataset import Dataset
from twin.expressions import compile_expression, count_nodes, parse_expression, to_text
from twin.fields import FieldTwin
from twin.ode import OdeTwin, from_ode
from twin.pde import Grid, InitialState, PdeTwin, from_pde
from twin.tabular import CsvError, DataTwin, from_csv

__all__ = [
    "CsvError", "DataTwin", "Dataset", "ExpressionTwin", "FieldTwin", "Grid", "InitialState", "OdeTwin",
    "Parameter", "PdeTwin",
    "SimulationError", "Twin", "Variable", "all_twins", "catalogue_entries", "compile_expression", "count_nodes",
    "feynman_name", "from_csv", "from_expression", "from_ode", "from_pde", "get_twin", "parse_expression",
    "resolve_device", "to_text", "twin_names",
]
