import numpy as np
import pytest
import sympy as sp

from tools.arms.enumeration import MAX_SIZE, enumerate_expressions
from tools.symbolic import discover
from tools.verify import exact_match
from twin import parse_expression


def test_library_holds_each_function_once_and_stays_bounded():
    X = np.random.default_rng(0).uniform(0.5, 2.0, size=(128, 2))
    library = enumerate_expressions(X)
    symbols = [sp.Symbol("a", real=True), sp.Symbol("b", real=True)]
    small = int(np.sum(library.sizes <= 5))  # as sympy, the ~4,000 smallest (all 28,000: 50 s); values: every one
    texts = [str(library.expression(k, symbols)) for k in range(small)]
    assert "a + b" in texts and "a*b" in texts and "exp(1/a)" in texts
    assert "b + a" not in texts and "2*a" in texts and texts.count("2*a") == 1  # a + a is 2·a: kept once
    rounded = np.round(library.values[:, :24], 9)
    assert len(np.unique(rounded, axis=0)) >= len(library.nodes) - 5  # float-rounding ties at most
    assert library.sizes.max() <= MAX_SIZE
    assert not any(str(f).count("sin") + str(f).count("exp") > 1 for f in texts[:2000])


@pytest.mark.parametrize("law, names", [
    ("1/(exp(1/u) + exp(-1/u))", ["u"]),          # 1/(2 cosh(1/u)): a two-term fit of 1/y
    ("asin(n*sin(t))", ["n", "t"]),                 # Snell: a one-term fit of sin y
    ("exp(-t**2/(2*s**2))/s", ["s", "t", "w"]),     # a Gaussian with a spectator input: two terms of log y
])
def test_enumeration_arm_finds_laws_outside_the_feature_libraries(law, names):
    rng = np.random.default_rng(1)
    X = rng.uniform(0.2, 0.9, size=(300, len(names)))
    truth = parse_expression(law, names)
    y = np.asarray(sp.lambdify([sp.Symbol(n, real=True) for n in names], truth, "numpy")(*X.T), dtype=float)
    found = discover(X, y, names, time_budget=5, seed=0, arms=["enumerate"])
    assert found.best.source == "enumerate"
    assert exact_match(found.best.expression, truth, positive=set(names))
