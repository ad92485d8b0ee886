"""Search arms as plug-ins: one arm per module, registered by name.

The search (``tools.symbolic.discover``) runs the selected arms in registry order: first the per-problem arms on
every problem (as given and each reduction), then the others once each. ``register_arm`` adds an arm of one's own;
``discover`` also takes arm instances directly, so a one-off arm needs no registration::

    from tools.arms import DataArm, register_arm

    @dataclass(frozen=True)
    class LogArm(DataArm):
        name = "log"
        def propose_data(self, X, y, names):
            ...

    register_arm(LogArm())
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.arms.base import Arm, DataArm, Problem, Proposals, SearchState
from tools.arms.cross import CrossArm
from tools.arms.enumeration import EnumerationArm
from tools.arms.exponential import ExponentialArm
from tools.arms.kan import KanArm
from tools.arms.network import NetworkArm
from tools.arms.operon import OperonArm
from tools.arms.parametric import ParametricArm
from tools.arms.periodic import PeriodicArm
from tools.arms.power import PowerArm
from tools.arms.powerlaw import PowerLawArm
from tools.arms.rational import RationalArm
from tools.arms.skeleton import SkeletonArm
from tools.arms.sparse import SparseArm
from tools.arms.transform import TransformArm

__all__ = ["ARMS", "DEFAULT_ARMS", "Arm", "DataArm", "Problem", "Proposals", "SearchState", "register_arm",
           "registered_arms", "resolve_arms"]

#: The built-in arms in the order the search runs them (per-problem arms first, in this order).
_BUILT_IN: tuple[Arm, ...] = (
    PowerLawArm(), ExponentialArm(), SparseArm(), RationalArm(), TransformArm(), PowerArm(), CrossArm(),
    EnumerationArm(), PeriodicArm(), NetworkArm(), ParametricArm(), SkeletonArm(), KanArm(), OperonArm())
_REGISTRY: dict[str, Arm] = {arm.name: arm for arm in _BUILT_IN}
#: Names of the built-in arms, and of those ``discover`` runs unless told otherwise.
ARMS: tuple[str, ...] = tuple(arm.name for arm in _BUILT_IN)
DEFAULT_ARMS: tuple[str, ...] = tuple(arm.name for arm in _BUILT_IN if arm.default)


def register_arm(arm: Arm) -> None:
    """Make ``arm`` selectable by its name (after the built-in arms; a name may be registered once)."""
    if not isinstance(arm, Arm):
        raise TypeError(f"an arm must be an instance of tools.arms.Arm, got {type(arm).__name__}")
    if arm.name in _REGISTRY:
        raise ValueError(f"an arm named {arm.name!r} is already registered")
    _REGISTRY[arm.name] = arm


def registered_arms() -> dict[str, Arm]:
    """Every selectable arm by name, in the order the search runs them."""
    return dict(_REGISTRY)


def resolve_arms(arms: Sequence[str | Arm]) -> list[Arm]:
    """Arm instances for names or instances, in run order: per-problem arms first, then as given by the registry
    (instances not registered keep their place among their kind, after the registered ones)."""
    chosen = []
    for arm in arms:
        if isinstance(arm, Arm):
            chosen.append(arm)
        elif arm in _REGISTRY:
            chosen.append(_REGISTRY[arm])
        else:
            raise ValueError(f"unknown arm {arm!r}; choose from {tuple(_REGISTRY)} or pass an Arm")
    order = {name: i for i, name in enumerate(_REGISTRY)}
    unique = list({id(arm): arm for arm in chosen}.values())
    return sorted(unique, key=lambda arm: (not arm.per_problem, order.get(arm.name, len(order))))
