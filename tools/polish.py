"""Every proposal, whatever arm made it, is polished the same way: its constants refitted, its normal form
tried, its constants snapped to simple values, and then scored on validation data. Rewrites of the candidates a
choice could pick (without an additive term, square roots in normal form) are polished beside them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from tools.constants import MAX_CONSTANTS, evaluate, nmse, normalise, refit, snap
from tools.results import Candidate, Split
from tools.rewrites import linearised, out_of_radical, without_each_term
from tools.selection import EXACT_NMSE, TIE_NMSE, description_nats, margin
from twin.expressions import count_nodes, parse_expression, to_text


@dataclass(frozen=True)
class PolishOptions:
    """Settings of the polish.

    Parameters
    ----------
    snap_r2 : float
        Below this validation R² constants are not snapped. Lower than the search's ``confident_r2``: noisy
        derivative targets of an ODE hold the right law at R² ≈ 0.96 (Lotka–Volterra at σ = 1 %, 3x − x² − 2xy
        fitted as 2.96x − 0.99x² − 1.97xy).
    normal_form_nodes : int
        The largest normal form (``tools.constants.normalise``) refitted where it grew beyond 1.5 times the
        formula: Feynman I.30.3 needs 157 nodes; a 578-node form with 24 constants took 26 s to refit and snap, over
        half of a noisy ODE component's time (Strogatz's bacterial respiration at σ = 1 %: 49 s, 21 s with this bound).
    snap_nmse_factor : float
        Constants are snapped only in formulas within this factor of the best validation NMSE so far: no other can
        be chosen, here or by the trajectory refit (tools.system_proposals.CANDIDATE_NMSE_FACTOR), so snapping them
        is wasted work (2 of 49 s on that bacterial-respiration component).
    per_arm : int
        Proposals of one arm polished (those of lowest raw validation error; polishing is the expensive step).
    fitted_constants : int
        A proposal whose arm fitted its own constants (genetic programming) with more constants than this gets
        only a short refit: no simple law hides in it, and a full refit and snap of a dozen redundant constants
        took seconds each, most of a noisy ODE component's time.
    pruned_candidates : int
        Candidates (within the choice's margin, least description first) whose additive terms are each tried away.
    prune_rounds : int
        Rounds of term pruning: a pruned candidate still within the margin has its terms tried away again.
    radical_forms : int
        Square-root normal forms (tools.rewrites.out_of_radical) polished, of the candidates within the margin.
    linearised_candidates : int
        Candidates (within the choice's margin, least description first) whose functions are each tried as their
        first-order Taylor polynomial (``resolved_candidates``).
    """

    snap_r2: float = 0.9
    normal_form_nodes: int = 200
    snap_nmse_factor: float = 4.0
    per_arm: int = 8
    fitted_constants: int = 10
    pruned_candidates: int = 4
    prune_rounds: int = 3
    radical_forms: int = 16
    linearised_candidates: int = 16


DEFAULT = PolishOptions()


def polish(expr: sp.Expr, data: Split, names: list[str], fitted: bool = False, snap_below: float = math.inf,
           options: PolishOptions = DEFAULT) -> sp.Expr:
    """Refit constants, normalise, refit again, snap to simple values (when the fit is good enough to matter:
    a validation R² of at least ``options.snap_r2`` and a validation NMSE below ``snap_below``).

    ``fitted``: the proposing arm already fitted the constants (``PolishOptions.fitted_constants``).
    """
    if fitted and len(expr.atoms(sp.Float)) > options.fitted_constants:
        return refit(expr, data.X_train, data.y_train, names, max_nfev=2)
    expr = refit(expr, data.X_train, data.y_train, names)
    simplified = normalise(expr)
    # A canonical form may expand (3·(x + a)²/(2 + x)), and its expanded terms get constants of their own: Feynman
    # I.30.3's law is found from a 27-node approximation whose 157-node normal form with 15 constants refits to
    # Int_0·(1 − cos nθ)/(1 − cos θ). A blow-up beyond what the refit fits (MAX_CONSTANTS, normal_form_nodes) is
    # rejected unfitted.
    if simplified != expr and (count_nodes(simplified) <= 1.5 * count_nodes(expr) + 2
                               or (len(simplified.atoms(sp.Float)) <= MAX_CONSTANTS
                                   and count_nodes(simplified) <= options.normal_form_nodes)):
        simplified = refit(simplified, data.X_train, data.y_train, names)
        if nmse(evaluate(simplified, data.X_val, names), data.y_val) <= \
                nmse(evaluate(expr, data.X_val, names), data.y_val) * 1.01 + 1e-14:
            expr = simplified
    if nmse(evaluate(expr, data.X_val, names), data.y_val) > min(1 - options.snap_r2, snap_below):
        return expr  # explains too little for exact constants to mean anything (pure noise stays fast)
    snapped = snap(expr, data.X_train, data.y_train, data.X_val, data.y_val, names)
    if snapped.atoms(sp.Float) or not _cancellable(snapped):
        return snapped
    try:
        cancelled = sp.cancel(snapped)  # exact coefficients now: common factors cancel safely
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):
        return snapped
    return cancelled if count_nodes(cancelled) < count_nodes(snapped) else snapped


#: The largest denominator of a rational exponent ``polish`` lets sympy's ``cancel`` see.
CANCEL_MAX_DENOMINATOR = 4


def _cancellable(expr: sp.Expr) -> bool:
    """Whether ``sp.cancel`` may be tried on ``expr``: every exponent an integer or a rational of denominator at
    most ``CANCEL_MAX_DENOMINATOR``. cancel writes x^(p/q) over a generator x^(1/q): a skeleton's snapped
    r^(21/10)·r^(1/7) becomes a polynomial of degree 147 in r^(1/70), and an exponent 2π has no such generator;
    sympy's heuristic GCD then ran for over ten minutes on one Feynman formula at σ = 1 % (II.3.24)."""
    return all(not p.exp.is_number or p.exp.is_Integer or (p.exp.is_Rational and p.exp.q <= CANCEL_MAX_DENOMINATOR)
               for p in expr.atoms(sp.Pow))


def polished_candidates(proposals: Sequence[sp.Expr], source: str, data: Split, names: list[str],
                        keep: int | None = None, best: float = math.inf, fitted: bool = False,
                        options: PolishOptions = DEFAULT) -> list[Candidate]:
    """The ``keep`` (default ``options.per_arm``) proposals of lowest raw validation error, polished and scored
    (constants snap only within ``options.snap_nmse_factor`` of the ``best`` validation NMSE so far); proposals
    that fail, give non-finite values, lose every input or cannot be read back are dropped. ``fitted``: the arm
    fitted its own constants (``polish``)."""
    keep = options.per_arm if keep is None else keep
    scored = sorted(((nmse(evaluate(e, data.X_val, names), data.y_val), i) for i, e in enumerate(proposals)))
    kept = []
    for raw_error, index in scored[:keep]:
        if not np.isfinite(raw_error):
            continue
        try:
            polished = polish(proposals[index], data, names, fitted=fitted,
                              snap_below=options.snap_nmse_factor * best + TIE_NMSE, options=options)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
            continue
        error = nmse(evaluate(polished, data.X_val, names), data.y_val)
        if np.isfinite(error) and polished.free_symbols and _reads_back(polished, names):
            kept.append(Candidate(polished, source, error, count_nodes(polished)))
    return kept


def pruned_candidates(eligible: Sequence[Candidate], data: Split, names: list[str], threshold: float,
                      best: float = math.inf, options: PolishOptions = DEFAULT) -> list[Candidate]:
    """Backward elimination over additive terms: the first ``options.pruned_candidates`` of ``eligible`` (least
    description first), each without one term, refitted; those still within ``threshold`` are pruned again, for up
    to ``options.prune_rounds`` rounds (``best``: see ``polished_candidates``). Bonus 9 at σ = 1 % comes back as its
    two terms beside three spurious ones."""
    n_fit = len(data.y_train)
    found: list[Candidate] = []
    parents, seen = list(eligible), set()
    for _ in range(options.prune_rounds):
        forms = list(dict.fromkeys(v for c in parents[:options.pruned_candidates]
                                   for v in without_each_term(c.expression) if v not in seen))
        seen.update(forms)
        pruned = polished_candidates(forms, "pruned", data, names, best=best, options=options)
        found += pruned
        parents = sorted((c for c in pruned if c.val_nmse <= threshold), key=lambda c: description_nats(c, n_fit))
        if not parents:
            break
    return found


def rewritten_candidates(candidates: Sequence[Candidate], data: Split, names: list[str], tolerance: float,
                         options: PolishOptions = DEFAULT) -> list[Candidate]:
    """Polished rewrites of the candidates a choice could pick (``choose``'s margin): without additive terms
    (``pruned_candidates``) and with their square roots in normal form ("radical"); none once a candidate is exact."""
    best = min(c.val_nmse for c in candidates)
    if best < EXACT_NMSE:
        return []
    threshold = margin(candidates, tolerance)
    eligible = sorted((c for c in candidates if c.val_nmse <= threshold),
                      key=lambda c: description_nats(c, len(data.y_train)))
    # A rewrite keeps the values of the candidate it comes from: the first ``radical_forms``, by their candidates'
    # description, are polished (not those of lowest raw error, where a hundred candidates tie within noise).
    radical = list(dict.fromkeys(v for c in eligible for v in out_of_radical(c.expression, data.X_train, names)))
    radical = radical[:options.radical_forms]
    return (pruned_candidates(eligible, data, names, threshold, best, options)
            + polished_candidates(radical, "radical", data, names, keep=options.radical_forms, best=best,
                                  options=options))


def resolved_candidates(candidates: Sequence[Candidate], data: Split, names: list[str], tolerance: float,
                        options: PolishOptions = DEFAULT) -> list[Candidate]:
    """``candidates`` without the stand-ins whose functions the data do not resolve, and in their place the
    polished forms with such a function as its first-order Taylor polynomial (``tools.rewrites.linearised``).

    A candidate a choice could pick is a stand-in when one function of it, so replaced with its constants kept,
    still fits the validation data within the choice's ``tolerance`` of the candidate itself: its curvature is
    not seen, and a function of no curvature is no evidence for the function (atan(0.0799·q₁/(εr²)) for
    Coulomb's law at σ = 1 %, shorter than the law by two nodes). Repeated on the replacements, so a stand-in
    with two such functions loses both; none once a candidate is exact."""
    candidates = list(candidates)
    if min(c.val_nmse for c in candidates) < EXACT_NMSE:
        return candidates
    examined: set[int] = set()
    for _ in range(2):
        threshold = margin(candidates, tolerance)
        eligible = sorted((c for c in candidates if c.val_nmse <= threshold and id(c) not in examined),
                          key=lambda c: description_nats(c, len(data.y_train)))[:options.linearised_candidates]
        examined.update(id(c) for c in eligible)
        stand_ins, forms = set(), []
        for candidate in eligible:
            tied = [form for form in linearised(candidate.expression)
                    if nmse(evaluate(form, data.X_val, names), data.y_val)
                    <= candidate.val_nmse * (1 + tolerance) + TIE_NMSE]
            if tied:
                stand_ins.add(id(candidate))
                forms += tied
        if not stand_ins:
            break
        replacements = polished_candidates(list(dict.fromkeys(forms)), "linearised", data, names, keep=len(forms),
                                           best=min(c.val_nmse for c in candidates), options=options)
        kept = [c for c in candidates if id(c) not in stand_ins] + replacements
        if not kept:  # no replacement polished: the stand-ins are all there is
            break
        candidates = kept
    return candidates


def _reads_back(expr: sp.Expr, names: list[str]) -> bool:
    """Whether a formula's text passes the safe parser: sessions, reports and benchmark rows store the text
    (genetic programming can return x**394.8, beyond the parser's exponent limit)."""
    try:
        parse_expression(to_text(expr), names)
    except ValueError:
        return False
    return True
