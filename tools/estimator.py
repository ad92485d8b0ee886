"""A scikit-learn face on the search: ``SymbolicRegressor(...).fit(X, y).predict(X)``, as PySR and gplearn offer,
and ``SystemRegressor(...).fit(trajectories)`` for an ODE system.

``__init__`` only stores its arguments; ``fit`` runs ``tools.symbolic.discover`` and sets the fitted attributes
(ending in ``_``); ``predict`` evaluates the chosen formula. The Pareto front is ``equations_``, a DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import sympy as sp
from scipy.integrate import solve_ivp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from tools.arms import DEFAULT_ARMS, Arm
from tools.constants import evaluate
from tools.symbolic import SearchOptions, discover
from tools.system import discover_system
from twin.dataset import Dataset


class SymbolicRegressor(RegressorMixin, BaseEstimator):
    """Find a closed-form law y = f(X) from data.

    Parameters
    ----------
    time_budget : float
        Seconds of search (counted as work, so that a fit repeats exactly).
    arms : sequence of str or Arm, optional
        Search arms by name (``tools.arms.registered_arms``) or as instances; the default set when None.
    seed : int
        Seed of every random choice.
    options : SearchOptions, optional
        Settings of the search loop and of the polish of every proposal.

    Attributes
    ----------
    best_ : tools.results.Candidate
        The chosen formula with its scores.
    equations_ : pandas.DataFrame
        The Pareto front (complexity, validation NMSE, test R², formula, sympy and LaTeX forms, proposing arm).
    confident_ : bool
        Whether the formula is trusted: test R² ≥ 0.99 and constants that hold at the data's edges.
    findings_ : list of str
        What the search found on the way, in words (screened-out inputs, separability, scaling).
    discovery_ : tools.results.Discovery
        The whole outcome, every polished candidate included.
    variable_names_ : list of str
        The input names the formulas use.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(1, 3, (200, 2))
    >>> model = SymbolicRegressor(time_budget=5).fit(X, 2 * X[:, 0] / X[:, 1] ** 2, variable_names=["m", "r"])
    >>> model.sympy()
    2*m/r**2
    """

    def __init__(self, time_budget: float = 60.0, arms: Sequence[str | Arm] | None = None, seed: int = 0,
                 options: SearchOptions | None = None):
        self.time_budget = time_budget
        self.arms = arms
        self.seed = seed
        self.options = options

    def fit(self, X, y, variable_names: Sequence[str] | None = None,
            X_units: Sequence[str] | Mapping[str, str] | None = None, y_units: str | None = None
            ) -> SymbolicRegressor:
        """Search for the law.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs; a DataFrame's column names serve as variable names.
        y : array-like of shape (n_samples,)
            Target.
        variable_names : sequence of str, optional
            Names of the inputs in the formula (identifiers); ``x0, x1, …`` by default.
        X_units : sequence of str or mapping, optional
            Units of the inputs (``"kg"``, ``"m/s^2"``), per column or by name; with ``y_units`` the search also
            runs on the Buckingham-π reductions.
        y_units : str, optional
            Units of the target.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, y_numeric=True, ensure_min_samples=10)
        names = list(variable_names) if variable_names is not None else (
            [str(n) for n in self.feature_names_in_] if hasattr(self, "feature_names_in_")
            else [f"x{i}" for i in range(X.shape[1])])
        if len(names) != X.shape[1] or len(set(names)) != len(names):
            raise ValueError(f"variable_names must name each of the {X.shape[1]} columns once; got {names}")
        for name in names:
            if not name.isidentifier():
                raise ValueError(f"variable name {name!r} is not an identifier (letters, digits, underscores)")
        units = None
        if X_units is not None:
            units = dict(X_units) if isinstance(X_units, Mapping) else dict(zip(names, X_units, strict=True))
        found = discover(X, y, names, self.time_budget, self.seed, DEFAULT_ARMS if self.arms is None else self.arms,
                         units=units, target_unit=y_units, options=self.options)
        self.discovery_ = found
        self.best_ = found.best
        self.confident_ = found.confident
        self.findings_ = list(found.findings)
        self.variable_names_ = names
        self.equations_ = pd.DataFrame([{
            "complexity": c.complexity, "loss": c.val_nmse, "r2_test": c.test_r2, "equation": c.text,
            "sympy_format": c.expression, "latex": sp.latex(c.expression), "source": c.source} for c in found.pareto])
        return self

    def predict(self, X) -> np.ndarray:
        """The chosen formula's values on ``X`` (NaN where it is undefined)."""
        check_is_fitted(self, "best_")
        X = validate_data(self, X, reset=False)
        return evaluate(self.best_.expression, X, self.variable_names_)

    def sympy(self, index: int | None = None) -> sp.Expr:
        """The chosen formula, or row ``index`` of ``equations_``, as a sympy expression."""
        check_is_fitted(self, "best_")
        return self.best_.expression if index is None else self.equations_["sympy_format"].iloc[index]

    def latex(self, index: int | None = None) -> str:
        """The chosen formula, or row ``index`` of ``equations_``, in LaTeX."""
        return sp.latex(self.sympy(index))


class SystemRegressor(BaseEstimator):
    """Find the ODE system dx/dt = f(x) behind trajectories: each state's derivative from a smoothed derivative
    table, then, for noisy data, the system refitted against the trajectories (tools.system.discover_system).

    Parameters
    ----------
    time_budget : float
        Seconds of search per state.
    arms, seed, options
        As for ``SymbolicRegressor``.

    Attributes
    ----------
    equations_ : dict of str to sympy.Expr
        The right-hand side of each state.
    confident_ : bool
        Whether every state's formula is trusted.
    findings_ : list of str
        What the search and the refit found, per state.
    discovery_ : tools.system.SystemDiscovery
        The whole outcome: each state's search, the derivative search's own choice, the refit.
    state_names_ : list of str
        The states, in the order of the trajectories' last axis.
    """

    def __init__(self, time_budget: float = 20.0, arms: Sequence[str | Arm] | None = None, seed: int = 0,
                 options: SearchOptions | None = None):
        self.time_budget = time_budget
        self.arms = arms
        self.seed = seed
        self.options = options

    def fit(self, trajectories: Dataset) -> SystemRegressor:
        """Search for the system behind ``trajectories``: a dataset of kind ``"ode"`` (a twin's ``simulate`` on
        initial states; arrays ``t`` (T,) and ``states`` (runs, T, states)).

        Returns
        -------
        self
        """
        if not isinstance(trajectories, Dataset):
            raise TypeError(f"fit takes trajectories as a twin Dataset, got {type(trajectories).__name__}")
        found = discover_system(trajectories, self.time_budget, self.seed,
                                DEFAULT_ARMS if self.arms is None else self.arms, options=self.options)
        self.discovery_ = found
        self.state_names_ = list(trajectories.input_names)
        self.equations_ = found.formulas
        self.confident_ = all(law.confident for law in found.laws.values())
        self.findings_ = [*found.findings, *(f"{state}: {text}" for state, law in found.laws.items()
                                             for text in law.findings)]
        return self

    def predict(self, x0, t) -> np.ndarray:
        """The found system integrated from initial state ``x0`` (one per state) at times ``t``: (len(t), states)."""
        check_is_fitted(self, "equations_")
        x0 = np.asarray(x0, dtype=float).reshape(-1)
        t = np.asarray(t, dtype=float).reshape(-1)
        if len(x0) != len(self.state_names_):
            raise ValueError(f"x0 needs one value per state {self.state_names_}, got {len(x0)}")
        right = [self.equations_[s] for s in self.state_names_]

        def field(_, x):
            return [float(evaluate(f, x[None, :], self.state_names_)[0]) for f in right]

        solution = solve_ivp(field, (t[0], t[-1]), x0, t_eval=t, rtol=1e-8, atol=1e-10)
        if not solution.success:
            raise ValueError(f"the found system could not be integrated over t: {solution.message}")
        return solution.y.T

    def sympy(self) -> dict[str, sp.Expr]:
        """Each state's right-hand side."""
        check_is_fitted(self, "equations_")
        return dict(self.equations_)

    def latex(self) -> dict[str, str]:
        """Each state's right-hand side in LaTeX."""
        return {state: sp.latex(expr) for state, expr in self.sympy().items()}
