"""A small library of outcome models, one chosen per outcome and arm by out-of-fold error.

Boosted trees alone fit smooth structure poorly on small data: an outcome that is linear in the
covariates, or log-linear (multiplicative effects, as in counts and revenue), is approximated by
steps. The cross-fitted outcome nuisances therefore come from a library, every member fitted on
the same folds, and the member with the smallest out-of-fold (weighted) squared error is used
for that outcome and arm (a discrete super learner, van der Laan, Polley & Hubbard 2007):

===========  ======================================================================  ============
member       model                                                                   used when
===========  ======================================================================  ============
"lightgbm"   LightGBM (:func:`estimators._nuisance.lgbm_params`)                      always
"linear"     ridge regression, penalty by generalised cross-validation, on           always
             standardised numeric columns and one-hot categorical levels
"poisson"    log-link GLM (Poisson deviance, small ridge penalty) on the same         outcome >= 0
             design: ``E[Y | Z] = exp(Z b)``, multiplicative effects
===========  ======================================================================  ============

Selecting among three members on out-of-fold error costs one fit per member and fold (no nested
cross-validation); the two linear members are cheap next to LightGBM and are fitted on at most
:data:`LINEAR_MAX_ROWS` rows. ``nuisance_params={"outcome_library": ["lightgbm"]}`` restores
trees only. The propensity model can be chosen the same way (LightGBM or a logistic regression,
by out-of-fold log-loss; opt-in, see :data:`DEFAULT_PROPENSITY`). Fitted estimators list every
member's out-of-fold error and the choice in ``outcome_models_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_LIBRARY",
    "DEFAULT_PROPENSITY",
    "PROPENSITY_LIBRARY",
    "LogisticPropensity",
    "PROPENSITY_CALIBRATIONS",
    "PlattCalibrated",
    "calibrate_propensity",
    "check_calibration",
    "check_log_features",
    "oof_log_loss",
    "propensity_members",
    "ridge_gcv",
    "LINEAR_MAX_ROWS",
    "LinearDesign",
    "LinearOutcome",
    "library_members",
    "oof_mse",
]

#: Members tried for every outcome model, in this order (ties go to the earlier member).
DEFAULT_LIBRARY: tuple[str, ...] = ("lightgbm", "linear", "poisson")

#: Propensity models that may be tried, chosen by out-of-fold log-loss (ties: the earlier one).
PROPENSITY_LIBRARY: tuple[str, ...] = ("lightgbm", "logistic")

#: Tried by default: LightGBM only. On the raw design the logistic regression never won; with
#: the (opt-in) ``log1p`` columns of :class:`LinearDesign` it wins on ``simulate_content`` (3,000 pins:
#: lower out-of-fold log-loss on 20 of 20 datasets, recalibrated log-odds slope 1.02 vs 0.88)
#: but it extrapolates its logistic tails past the true propensity's floor (0.02): fitted
#: propensities of 0.001-0.006, weights at the clip (100), ATE standard errors 7-50% wider
#: and RMSE up to 1.8x (``bench/RESULTS_estimators.md``, session 5). So it stays opt-in:
#: ``nuisance_params={"propensity_library": ["lightgbm", "logistic"]}``.
DEFAULT_PROPENSITY: tuple[str, ...] = ("lightgbm",)

#: Recalibrations of the chosen propensity model's out-of-fold predictions (see
#: :func:`calibrate_propensity`); "platt" is the default, ``None`` keeps the raw model.
PROPENSITY_CALIBRATIONS: tuple[str | None, ...] = ("platt", None)

#: The linear members are fitted on a random subsample of at most this many training rows
#: (their ~p coefficients are pinned down long before; keeps the 1M-row fit cheap).
LINEAR_MAX_ROWS = 200_000

#: Categorical columns keep their most frequent levels up to this many one-hot columns.
MAX_LEVELS = 50

_RIDGE_ALPHAS = np.logspace(-3, 4, 15)

#: A non-negative numeric column with more than two distinct values whose sample skewness
#: exceeds this ("highly skewed", Bulmer 1979) also enters the linear design as ``log1p``.
LOG_SKEW = 1.0


def _skewed(v: np.ndarray) -> bool:
    """True for a non-negative, non-binary column with sample skewness above :data:`LOG_SKEW`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> _skewed(10 ** rng.normal(3, 1, 500)), _skewed(rng.uniform(0, 1, 500))
    (True, False)
    """
    if v.size < 3 or float(v.min()) < 0.0 or np.unique(v[: min(v.size, 10_000)]).size <= 2:
        return False
    sd = float(v.std())
    return sd > 0 and float(np.mean(((v - v.mean()) / sd) ** 3)) > LOG_SKEW


class LinearDesign:
    """Numeric design for the linear members: standardised numbers, one-hot categories.

    Numeric and boolean columns are centred and scaled by the training mean and SD (constant
    columns keep scale 1); categorical columns get one indicator per level among the
    :data:`MAX_LEVELS` most frequent training levels (others, and levels unseen in training,
    are all-zero). With ``log_skewed`` (opt-in through ``nuisance_params={"linear_log_features":
    True}``), a non-negative, highly right-skewed numeric column (sample skewness above
    :data:`LOG_SKEW`: follower counts, impressions) also enters as a standardised ``log1p``
    column beside its raw one, so the ridge member can fit a relation in its logarithm and the
    Poisson member a power law (``E[Y] ~ followers^b``).

    Measured on ``causal.simulate_content`` (3,000 pins, whose counts scale as
    ``followers^0.22``; ``bench/RESULTS_estimators.md``, session 5): the outcome models' RMSE
    around the true means fell by 20-35% and the plug-in ATE bias from +1.2 to +2.8 SE to
    under +0.4 SE, and over 100 datasets the ATE interval covered outbound clicks 0.95 (0.92
    without) — but saves 0.91 (0.96 without), its z-scores spreading wider (SD 1.14). It is
    therefore not the default.

    Examples
    --------
    >>> import pandas as pd
    >>> Z = pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": pd.Categorical(["x", "y", "x"])})
    >>> LinearDesign().fit(Z).transform(Z).shape
    (3, 3)
    """

    def __init__(self, log_skewed: bool = False) -> None:
        self.log_skewed = log_skewed

    def fit(self, Z: pd.DataFrame) -> LinearDesign:
        self.numeric_: list[tuple[str, float, float]] = []
        self.log_: list[tuple[str, float, float]] = []
        self.categorical_: list[tuple[str, list[Any]]] = []
        for col in Z.columns:
            s = Z[col]
            if isinstance(s.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
            ):
                levels = s.value_counts(sort=True).index[:MAX_LEVELS].tolist()
                self.categorical_.append((col, levels))
            else:
                v = s.to_numpy(dtype=float)
                sd = float(v.std())
                self.numeric_.append((col, float(v.mean()), sd if sd > 0 else 1.0))
                if self.log_skewed and not pd.api.types.is_bool_dtype(s.dtype) and _skewed(v):
                    lv = np.log1p(v)
                    self.log_.append((col, float(lv.mean()), float(lv.std()) or 1.0))
        return self

    def transform(self, Z: pd.DataFrame) -> np.ndarray:
        blocks = [
            ((Z[col].to_numpy(dtype=float) - mean) / sd)[:, None] for col, mean, sd in self.numeric_
        ]
        blocks += [
            ((np.log1p(np.maximum(Z[col].to_numpy(dtype=float), 0.0)) - mean) / sd)[:, None]
            for col, mean, sd in self.log_
        ]
        for col, levels in self.categorical_:
            s = Z[col]
            if isinstance(s.dtype, pd.CategoricalDtype):  # map category codes, not values
                lookup = pd.Index(levels).get_indexer(s.cat.categories)
                raw = s.cat.codes.to_numpy()
                codes = np.where(raw >= 0, lookup[raw], -1)
            else:
                codes = pd.Index(levels).get_indexer(s)  # -1: other / unseen level
            onehot = np.zeros((len(Z), len(levels)))
            hit = codes >= 0
            onehot[np.flatnonzero(hit), codes[hit]] = 1.0
            blocks.append(onehot)
        if not blocks:
            return np.zeros((len(Z), 0))
        return np.hstack(blocks)


def _subsample(
    Z: pd.DataFrame, target: np.ndarray, w: np.ndarray | None, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """At most :data:`LINEAR_MAX_ROWS` rows, drawn without replacement (order kept)."""
    if len(target) <= LINEAR_MAX_ROWS:
        return Z, target, w
    keep = np.sort(np.random.default_rng(seed).choice(len(target), LINEAR_MAX_ROWS, replace=False))
    return Z.iloc[keep], target[keep], None if w is None else w[keep]


class LinearOutcome:
    """Ridge (``kind="linear"``) or Poisson log-link GLM (``kind="poisson"``) on a design.

    ``fit(Z, y, w)`` subsamples to :data:`LINEAR_MAX_ROWS` rows; ``predict(Z)`` returns the
    conditional mean. The GLM's linear predictor is clipped to the training range widened by
    one unit (a factor e), so a new row far outside the training data cannot explode.
    """

    def __init__(self, kind: str, seed: int, log_skewed: bool = False) -> None:
        self.kind = kind
        self.seed = seed
        self.log_skewed = log_skewed

    def fit(self, Z: pd.DataFrame, y: np.ndarray, w: np.ndarray | None) -> LinearOutcome:
        Z, y, w = _subsample(Z, y, w, self.seed)
        self.design_ = LinearDesign(self.log_skewed).fit(Z)
        A = self.design_.transform(Z)
        if self.kind == "linear":
            self.coef_, self.intercept_, self.alpha_ = ridge_gcv(A, y, w)
        else:
            from sklearn.linear_model import PoissonRegressor

            self.model_: Any = PoissonRegressor(alpha=1e-4, max_iter=500).fit(A, y, sample_weight=w)
            eta = np.log(np.maximum(self.model_.predict(A), 1e-300))
            self.eta_range_ = (float(eta.min()) - 1.0, float(eta.max()) + 1.0)
        return self

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        A = self.design_.transform(Z)
        if self.kind == "linear":
            return A @ self.coef_ + self.intercept_
        eta = A @ self.model_.coef_ + self.model_.intercept_
        return np.exp(np.clip(eta, *self.eta_range_))


class LogisticPropensity:
    """Multinomial (binary: logistic) regression of the treatment level on the linear design.

    A mild ridge penalty (``C = 1`` on standardised columns) keeps separated data finite.
    ``predict_proba(Z)`` returns shape (m, n_classes); fitted on at most
    :data:`LINEAR_MAX_ROWS` rows.
    """

    def __init__(self, seed: int, log_skewed: bool = False) -> None:
        self.seed = seed
        self.log_skewed = log_skewed

    def fit(
        self, Z: pd.DataFrame, t: np.ndarray, w: np.ndarray | None, n_classes: int
    ) -> LogisticPropensity:
        from sklearn.linear_model import LogisticRegression

        Z, t, w = _subsample(Z, t, w, self.seed)
        self.design_ = LinearDesign(self.log_skewed).fit(Z)
        self.n_classes_ = n_classes
        self.model_ = LogisticRegression(C=1.0, max_iter=1000).fit(
            self.design_.transform(Z), t, sample_weight=w
        )
        return self

    def predict_proba(self, Z: pd.DataFrame) -> np.ndarray:
        proba = self.model_.predict_proba(self.design_.transform(Z))
        out = np.zeros((len(Z), self.n_classes_))
        out[:, self.model_.classes_] = proba
        return out


def _log_odds(proba: np.ndarray) -> np.ndarray:
    """Log-odds of every arm against the first (control) column, shape (n, k - 1)."""
    p = np.clip(proba, 1e-6, 1.0)
    return np.log(p[:, 1:]) - np.log(p[:, :1])


class PlattCalibrated:
    """A propensity model whose probabilities pass through a logistic recalibration.

    ``predict_proba(Z)`` = ``calibrator(log-odds of model.predict_proba(Z))``; see
    :func:`calibrate_propensity`.
    """

    def __init__(self, model: Any, calibrator: Any, n_classes: int) -> None:
        self.model = model
        self.calibrator = calibrator
        self.n_classes = n_classes

    def predict_proba(self, Z: pd.DataFrame) -> np.ndarray:
        return self.recalibrate(self.model.predict_proba(Z))

    def recalibrate(self, proba: np.ndarray) -> np.ndarray:
        """The calibrator applied to probabilities of a model of the same family."""
        return _apply_calibrator(self.calibrator, proba, self.n_classes)


def _apply_calibrator(calibrator: Any, proba: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(proba), n_classes))
    out[:, calibrator.classes_] = calibrator.predict_proba(_log_odds(proba))
    return out


def check_calibration(method: Any) -> str | None:
    """``method`` if it names a propensity calibration (:data:`PROPENSITY_CALIBRATIONS`).

    Examples
    --------
    >>> check_calibration("platt"), check_calibration(None)
    ('platt', None)
    """
    if method not in PROPENSITY_CALIBRATIONS:
        from estimators._errors import EstimatorInputError

        raise EstimatorInputError(
            f"nuisance_params['propensity_calibration'] must be one of "
            f"{list(PROPENSITY_CALIBRATIONS)}; got {method!r}."
        )
    return None if method is None else str(method)


def check_log_features(value: Any) -> bool:
    """``nuisance_params["linear_log_features"]`` (default False): a bool, see :class:`LinearDesign`.

    Examples
    --------
    >>> check_log_features(False)
    False
    """
    if not isinstance(value, bool | np.bool_):
        from estimators._errors import EstimatorInputError

        raise EstimatorInputError(
            f"nuisance_params['linear_log_features'] must be True or False; got {value!r}."
        )
    return bool(value)


def calibrate_propensity(
    proba: np.ndarray, t: np.ndarray, w: np.ndarray | None, method: str | None = "platt"
) -> tuple[np.ndarray, Any]:
    """Recalibrate out-of-fold propensities ``proba`` (n, k) against the arms ``t``.

    ``method="platt"``: a logistic regression of the arm on the out-of-fold log-odds of each
    arm against control (Platt scaling; for k > 2 arms the multinomial version, "matrix
    scaling"), unpenalised, weighted by ``w``: k (k - 1) parameters fitted on all n rows.
    Returns ``(calibrated proba, calibrator)``; ``method=None`` returns ``(proba, None)``.

    Why: the regularised LightGBM propensity (:func:`estimators._nuisance.lgbm_params`, 100
    trees at learning rate 0.05, ``reg_lambda`` 10) is under-fitted — its log-odds are a
    shrunken copy of the true ones (on ``causal.simulate_content``, 3,000 pins, the slope of
    the out-of-fold log-odds on the true log-odds is 0.85), so the boosted units with the
    largest propensity get too small a one and too large a weight: an upward bias of 0.2-0.3
    SD in the doubly-robust ATE of the count outcomes. The recalibration stretches the
    log-odds back (slope 0.88 over 100 datasets; a slope of 1 is not the target — the out-of-fold log-odds also
    carry noise, and the best calibration of a noisy score shrinks it), and moved the ATE's
    z-score by -0.13 ± 0.01 (saves) and -0.14 ± 0.02 (outbound clicks), paired on the same
    nuisances over 20 datasets (``bench/RESULTS_estimators.md``, issue 9 item 6). Isotonic calibration moved it
    as much but noisier (s.e. 0.04-0.07) and gives propensities of exactly 0 or 1 on blocks
    with one arm only; a logistic member on the raw design (misspecified for heavy-tailed
    followers and impressions) moved it the wrong way (+0.8).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> true = 1 / (1 + np.exp(-rng.normal(0, 2, 5000)))
    >>> t = (rng.random(5000) < true).astype(int)
    >>> shrunk = 1 / (1 + np.exp(-0.5 * np.log(true / (1 - true))))
    >>> cal, _ = calibrate_propensity(np.c_[1 - shrunk, shrunk], t, None)
    >>> bool(abs(np.polyfit(np.log(true / (1 - true)), np.log(cal[:, 1] / cal[:, 0]), 1)[0] - 1) < 0.1)
    True
    """
    if check_calibration(method) is None:
        return proba, None
    from sklearn.linear_model import LogisticRegression

    n_classes = proba.shape[1]
    if np.unique(t).size < 2:
        return proba, None
    calibrator = LogisticRegression(C=np.inf, max_iter=1000).fit(
        _log_odds(proba), t, sample_weight=w
    )
    return _apply_calibrator(calibrator, proba, n_classes), calibrator


def oof_log_loss(proba: np.ndarray, t: np.ndarray, w: np.ndarray | None) -> float:
    """(Weighted) mean out-of-fold log-loss of class probabilities ``proba`` (n, k).

    Examples
    --------
    >>> import numpy as np
    >>> round(oof_log_loss(np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([0, 1]), None), 4)
    0.4581
    """
    p = np.clip(proba[np.arange(len(t)), t], 1e-15, 1.0)
    return float(np.average(-np.log(p), weights=w))


def ridge_gcv(
    A: np.ndarray, y: np.ndarray, w: np.ndarray | None, alphas: np.ndarray = _RIDGE_ALPHAS
) -> tuple[np.ndarray, float, float]:
    """Ridge regression with an unpenalised intercept, penalty chosen by generalised CV.

    Everything comes from the ``p x p`` Gram matrix of the (weighted, centred) design and its
    eigendecomposition ``G = V diag(s2) V'``: with ``c2_i = (v_i' A'y)^2 / s2_i`` and shrinkage
    ``f_i = s2_i / (s2_i + alpha)``, ``RSS(alpha) = y'y - sum (2 f_i - f_i^2) c2_i`` and
    ``GCV(alpha) = RSS / (1 - sum f_i / n)^2`` (Golub, Heath & Wahba 1979), so a 200,000-row fit
    costs one ``A'A`` (sklearn's ``RidgeCV`` took 5-25 s there, here well under 1 s).

    Returns ``(coef, intercept, alpha)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.arange(20.0).reshape(10, 2) % 7
    >>> coef, b0, alpha = ridge_gcv(A, A @ np.array([1.0, -2.0]) + 3.0, None)
    >>> np.round(coef, 2).tolist(), round(b0, 2)
    ([1.0, -2.0], 3.0)
    """
    n = len(y)
    sw = np.ones(n) if w is None else np.asarray(w, dtype=float)
    wn = sw / sw.sum()
    x_mean = wn @ A
    y_mean = float(wn @ y)
    root = np.sqrt(sw)[:, None]
    Ac = (A - x_mean) * root
    yc = (y - y_mean) * root[:, 0]
    gram = Ac.T @ Ac
    b = Ac.T @ yc
    evals, V = np.linalg.eigh(gram)
    keep = evals > evals.max(initial=0.0) * 1e-12
    evals, V = evals[keep], V[:, keep]
    proj = V.T @ b
    c2 = proj**2 / evals
    yy = float(yc @ yc)
    best_alpha, best_gcv = float(alphas[0]), np.inf
    for alpha in alphas:
        f = evals / (evals + alpha)
        rss = max(yy - float(np.sum((2 * f - f**2) * c2)), 0.0)
        gcv = rss / max(1.0 - float(f.sum()) / n, 1e-12) ** 2
        if gcv < best_gcv:
            best_alpha, best_gcv = float(alpha), gcv
    coef = V @ (proj / (evals + best_alpha))
    return coef, y_mean - float(x_mean @ coef), best_alpha


def propensity_members(requested: Any) -> tuple[str, ...]:
    """The propensity models to try: ``requested`` (None = :data:`DEFAULT_PROPENSITY`).

    Examples
    --------
    >>> propensity_members(None), propensity_members(["lightgbm", "logistic"])
    (('lightgbm',), ('lightgbm', 'logistic'))
    """
    names = DEFAULT_PROPENSITY if requested is None else tuple(requested)
    if not names or any(m not in PROPENSITY_LIBRARY for m in names):
        from estimators._errors import EstimatorInputError

        raise EstimatorInputError(
            f"nuisance_params['propensity_library'] must be a non-empty list drawn from "
            f"{list(PROPENSITY_LIBRARY)}; got {requested!r}."
        )
    return names


def library_members(requested: Any, y: np.ndarray) -> tuple[str, ...]:
    """The members to try for outcome ``y``: ``requested`` (None = default) minus those that
    do not apply ("poisson" needs ``y >= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> library_members(None, np.array([-1.0, 2.0]))
    ('lightgbm', 'linear')
    """
    names = DEFAULT_LIBRARY if requested is None else tuple(requested)
    unknown = [m for m in names if m not in DEFAULT_LIBRARY]
    if unknown or not names:
        from estimators._errors import EstimatorInputError

        raise EstimatorInputError(
            f"nuisance_params['outcome_library'] must be a non-empty list drawn from "
            f"{list(DEFAULT_LIBRARY)}; got {requested!r}."
        )
    return tuple(m for m in names if m != "poisson" or float(np.min(y)) >= 0.0)


def oof_mse(pred: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
    """(Weighted) mean squared out-of-fold error.

    Examples
    --------
    >>> import numpy as np
    >>> oof_mse(np.array([1.0, 2.0]), np.array([1.0, 4.0]), None)
    2.0
    """
    return float(np.average((pred - y) ** 2, weights=w))
