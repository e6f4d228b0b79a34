"""The cross-fitted pieces of one effect estimate, taken from a fitted ``estimators`` model.

Every refuter and diagnostic of :mod:`causal.graph` works from these arrays (out-of-fold
outcome regressions, propensities, doubly-robust scores), so nothing is refitted that the
mathematics does not require. They are read through ``estimators.inference.nuisances`` (the
data and out-of-fold nuisances a fitted estimator keeps, shared by every final stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError, NotFittedError

__all__ = ["EffectScores", "scores_of"]


@dataclass(frozen=True)
class EffectScores:
    """One effect (outcome x arm vs control) with its cross-fitted nuisances.

    Discrete treatment (rows restricted to the arm and control): ``arm`` (bool), ``e1``, ``e0``
    (propensities of arm and control), ``mu1``, ``mu0`` (outcome regressions), ``psi`` (AIPW
    scores). Continuous: ``t``, ``t_hat`` (E[T | Z]), ``m`` (E[Y | Z]). Shapes (n,).
    """

    outcome: str
    treatment: str
    discrete: bool
    y: np.ndarray
    m: np.ndarray
    arm: np.ndarray | None
    e1: np.ndarray | None
    e0: np.ndarray | None
    mu1: np.ndarray | None
    mu0: np.ndarray | None
    psi: np.ndarray | None
    t: np.ndarray | None
    t_hat: np.ndarray | None
    Z: pd.DataFrame
    rows: np.ndarray  # row positions in the estimator's training data
    groups: np.ndarray | None
    weight: np.ndarray | None
    clip: float
    arm_label: Any = 1
    control_label: Any = 0

    @property
    def n(self) -> int:
        return int(self.y.size)

    def estimate(self, alpha: float = 0.05) -> Any:
        """The ATE (discrete: AIPW mean of ``psi``; continuous: partially linear)."""
        from estimators import mean_effect_from_scores, plr_ate

        if self.discrete:
            assert self.psi is not None
            return mean_effect_from_scores(
                self.psi, sample_weight=self.weight, groups=self.groups, alpha=alpha
            )
        assert self.t is not None and self.t_hat is not None
        return plr_ate(
            self.y - self.m,
            self.t - self.t_hat,
            sample_weight=self.weight,
            groups=self.groups,
            alpha=alpha,
        )


def fitted_nuisances(est: Any) -> Any:
    """``estimators.inference.nuisances(est)``, its errors re-raised as ``causal`` errors."""
    import estimators
    from estimators.inference import nuisances

    try:
        return nuisances(est)
    except estimators.NotFittedError:
        raise NotFittedError(
            f"{type(est).__name__} is not fitted: call fit(Y, T, X=..., W=...) first."
        ) from None
    except estimators.EstimatorInputError:
        raise ConfigError(
            f"Expected a fitted estimator from the 'estimators' package; got {type(est).__name__}."
        ) from None


def scores_of(est: Any, *, outcome: str | None = None, T1: Any = None) -> EffectScores:
    """The cross-fitted pieces of a fitted ``estimators`` model for one outcome and arm.

    Parameters
    ----------
    est : fitted estimators model (LinearDML, CausalForest, DRLearner, AutoCate, ...)
    outcome : str, optional
        Needed when the model was fitted on several outcomes.
    T1 : optional
        The arm, for a multi-valued treatment (default: the only arm).
    """
    d = fitted_nuisances(est)
    names = list(d.outcome_names)
    if outcome is None:
        if len(names) > 1:
            raise ConfigError(
                f"The estimator was fitted on several outcomes {names}: pass outcome=."
            )
        j = 0
    elif str(outcome) in names:
        j = names.index(str(outcome))
    else:
        raise ConfigError(f"outcome={outcome!r} is not one of the fitted outcomes {names}.")
    y_all = d.y[:, j]
    tname = "T"
    if d.discrete:
        levels = list(d.levels)
        if T1 is None:
            if len(levels) > 2:
                raise ConfigError(f"The treatment has levels {levels}: pass T1=<arm>.")
            a = 1
        elif T1 in levels[1:]:
            a = levels.index(T1)
        else:
            raise ConfigError(f"T1={T1!r} is not a treatment arm; arms are {levels[1:]}.")
        keep = (d.t_codes == a) | (d.t_codes == 0)
        rows = np.flatnonzero(keep)
        assert d.propensity is not None and d.arm_means is not None and d.scores is not None
        e1 = d.propensity[rows, a]
        e0 = d.propensity[rows, 0]
        mu1 = d.arm_means[rows, j, a]
        mu0 = d.arm_means[rows, j, 0]
        s = e1 + e0
        m = (e1 * mu1 + e0 * mu0) / np.maximum(s, 1e-12)  # E[Y | Z, T in {arm, control}]
        psi = d.scores[rows, j, a - 1] if len(levels) == 2 else d.scores[:, j, a - 1][rows]
        # on the arm-vs-control rows the conditional propensity is e1 / (e1 + e0)
        return EffectScores(
            outcome=names[j],
            treatment=tname,
            discrete=True,
            y=y_all[rows],
            m=m,
            arm=d.t_codes[rows] == a,
            e1=e1,
            e0=e0,
            mu1=mu1,
            mu0=mu0,
            psi=psi,
            t=None,
            t_hat=None,
            Z=d.Z.iloc[rows].reset_index(drop=True),
            rows=rows,
            groups=None if d.groups is None else d.groups[rows],
            weight=None if d.sample_weight is None else d.sample_weight[rows],
            clip=d.clip,
            arm_label=levels[a],
            control_label=levels[0],
        )
    rows = np.arange(d.n)
    return EffectScores(
        outcome=names[j],
        treatment=tname,
        discrete=False,
        y=y_all,
        m=d.outcome_mean[:, j],
        arm=None,
        e1=None,
        e0=None,
        mu1=None,
        mu0=None,
        psi=None,
        t=d.t,
        t_hat=d.treatment_mean,
        Z=d.Z,
        rows=rows,
        groups=d.groups,
        weight=d.sample_weight,
        clip=d.clip,
    )
