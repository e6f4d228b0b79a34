"""``explain(estimator, X)``: SHAP values of a fitted effect model's CATE, and the result types."""

from __future__ import annotations

import html
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from causal._errors import ConfigError, InsufficientDataError, LowFidelityError
from causal.data._readers import missing_column_error
from causal.explain._frame import Encoded, encode, estimator_features, modifier_frame

__all__ = [
    "DEFAULT_MIN_FIDELITY",
    "DEFAULT_TARGET_FIDELITY",
    "Explanation",
    "FidelityWarning",
    "LowFidelityError",
    "SegmentExplanation",
    "explain",
]

#: Below this held-out R^2 the surrogate does not stand for the effect model: refuse (or, with
#: ``method="auto"``, fall back to permutation SHAP of the model itself on a sample).
DEFAULT_MIN_FIDELITY = 0.9
#: The cheapest surrogate reaching this held-out R^2 is used (issue 14: >= 0.95).
DEFAULT_TARGET_FIDELITY = 0.95
MIN_ROWS = 50  # fewer rows cannot both train and check a surrogate
INTERVENTIONAL_ADDITIVITY_ATOL = 1e-6  # relative: shap's C++ sums in float64 over background

Method = Literal["auto", "surrogate", "permutation"]
Flavour = Literal["path_dependent", "interventional"]


class FidelityWarning(UserWarning):
    """The surrogate was not faithful enough; the slower model-agnostic path was used."""


# ---------------------------------------------------------------------------- result types
@dataclass(frozen=True, eq=False)
class SegmentExplanation:
    """Why the effect in a segment differs from the average: mean SHAP value per modifier.

    ``effect = base_value + contributions["contribution"].sum()`` is the mean (surrogate) CATE
    of the segment; ``cate_mean`` is the effect model's own mean CATE there.
    """

    name: str
    n: int
    base_value: float
    effect: float
    cate_mean: float
    contributions: pd.DataFrame  # feature, value (typical value in the segment), contribution

    def to_pandas(self) -> pd.DataFrame:
        """The contributions, largest absolute first."""
        return self.contributions.copy()

    def summary(self, top: int = 3) -> str:
        """One sentence a DS lead can read out."""
        parts = []
        for r in self.contributions.head(top).itertuples():
            parts.append(f"{r.feature} = {r.value} ({r.contribution:+.3g})")
        direction = "higher" if self.effect >= self.base_value else "lower"
        return (
            f"In {self.name} (n = {self.n:,}) the effect is {self.effect:.3g} against "
            f"{self.base_value:.3g} on average — {direction}, mostly because of "
            + "; ".join(parts)
            + "."
        )

    def plot(self, top: int = 8) -> Any:
        """Waterfall from the average effect to the segment's effect (matplotlib Figure)."""
        from causal.explain._plots import waterfall

        return waterfall(self, top=top)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.feature))}</td><td>{html.escape(str(r.value))}</td>"
            f"<td>{r.contribution:+.4g}</td></tr>"
            for r in self.contributions.itertuples()
        )
        return (
            f"<div><p>{html.escape(self.summary())}</p><table><thead><tr><th>modifier</th>"
            f"<th>typical value</th><th>contribution</th></tr></thead><tbody>{rows}</tbody>"
            "</table></div>"
        )


@dataclass(frozen=True, eq=False)
class Explanation:
    """SHAP values of a fitted effect model's CATE with respect to its modifiers.

    Attributes
    ----------
    values : ndarray of shape (n, p)
        SHAP value of each modifier (one column per modifier; a categorical is one column) at
        each explained row. ``base_value + values.sum(axis=1)`` is the explained prediction.
    base_value : float
        The average explained CATE (the SHAP expected value).
    feature_names : tuple of str
        The modifiers, in the effect model's order.
    data : DataFrame of shape (n, p)
        The explained rows of ``X`` (its index kept).
    cate : ndarray of shape (n,)
        The effect model's CATE at those rows.
    fidelity : float
        R^2 of the surrogate against the effect model's CATE on rows held out from the
        surrogate's fit (1.0 for ``method="permutation"``: the model itself is explained).
    method : str
        ``"tree_path_dependent"``, ``"tree_interventional"``, ``"permutation"`` or
        ``"constant"`` (the effect model predicts one effect for everyone).
    surrogate : dict
        The surrogate's description (candidate, trees, depth, rows used, candidates tried).
    outcome : str or None
        Which outcome's effect is explained (multi-outcome models).
    seconds : dict
        Wall time of the steps (``effect``, ``surrogate``, ``shap``).
    """

    values: np.ndarray
    base_value: float
    feature_names: tuple[str, ...]
    data: pd.DataFrame
    cate: np.ndarray
    fidelity: float
    method: str
    surrogate: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def prediction(self) -> np.ndarray:
        """The explained prediction per row: ``base_value + values.sum(axis=1)``."""
        return self.base_value + self.values.sum(axis=1)

    def importance(self, alpha: float = 0.05) -> pd.DataFrame:
        """Global importance: mean absolute SHAP value per modifier, largest first.

        Parameters
        ----------
        alpha : float
            The bands are ``1 - alpha`` intervals.

        Returns
        -------
        DataFrame with columns ``feature``, ``importance``, ``importance_ci_lower``,
        ``importance_ci_upper``, ``share`` (of the total importance), ``direction``
        (correlation between the modifier's value and its SHAP value, numeric modifiers).

        Notes
        -----
        The band is a normal interval for a mean over the explained rows (``se = sd(|phi|) /
        sqrt(n)``): how much the importance would move with another sample of items from the
        same population, given the fitted effect model. It does not include the effect model's
        own estimation error (for that, refit the estimator on resamples and explain each).
        """
        if not 0.0 < alpha < 1.0:
            raise ConfigError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r}.")
        a = np.abs(self.values)
        n = a.shape[0]
        imp = a.mean(axis=0)
        se = a.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(imp.shape, np.nan)
        z = float(stats.norm.ppf(1.0 - alpha / 2.0))
        total = imp.sum()
        direction = []
        for j, f in enumerate(self.feature_names):
            col = self.data[f]
            if pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(
                col.dtype, pd.CategoricalDtype
            ):
                x = col.to_numpy(dtype=float)
                v = self.values[:, j]
                ok = x.std() > 0 and v.std() > 0
                direction.append(float(np.corrcoef(x, v)[0, 1]) if ok else np.nan)
            else:
                direction.append(np.nan)
        df = pd.DataFrame(
            {
                "feature": list(self.feature_names),
                "importance": imp,
                "importance_ci_lower": np.maximum(imp - z * se, 0.0),
                "importance_ci_upper": imp + z * se,
                "share": imp / total if total > 0 else np.zeros_like(imp),
                "direction": direction,
            }
        )
        return df.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)

    def drivers(self, top: int | None = None, *, bands: bool = False) -> list[dict[str, Any]]:
        """The importance as JSON-ready records for ``summary.json`` (``drivers``).

        Parameters
        ----------
        top : int, optional
            Keep the ``top`` most important modifiers (default: all).
        bands : bool
            Also give ``importance_ci_lower`` / ``importance_ci_upper``.

        Returns
        -------
        list of dict
            ``[{"feature": str, "importance": float}, ...]``, most important first.
        """
        imp = self.importance()
        if top is not None:
            imp = imp.head(int(top))
        keys = ["feature", "importance"]
        if bands:
            keys += ["importance_ci_lower", "importance_ci_upper"]
        return [
            {k: (str(r[k]) if k == "feature" else float(r[k])) for k in keys}
            for r in imp.to_dict("records")
        ]

    def to_pandas(self) -> pd.DataFrame:
        """The SHAP values as a DataFrame: one row per explained item (``X``'s index), one
        column per modifier, plus ``base_value``, ``prediction`` and ``cate``."""
        df = pd.DataFrame(self.values, columns=list(self.feature_names), index=self.data.index)
        df["base_value"] = self.base_value
        df["prediction"] = self.prediction
        df["cate"] = self.cate
        return df

    def segment(self, where: Any, name: str | None = None) -> SegmentExplanation:
        """Explain the effect of a segment: why is it high (or low) there?

        Parameters
        ----------
        where : dict, boolean mask or str
            ``{"category": "diy", "format": "video", "age_days": (None, 7)}`` — a scalar means
            equality, a list/set membership, a ``(low, high)`` tuple the range
            ``low <= x < high`` (``None`` for open); or a boolean mask over the explained rows;
            or a ``DataFrame.query`` string over :attr:`data`.
        name : str, optional
            A label for plots and text (default: built from ``where``).

        Examples
        --------
        >>> seg = ex.segment({"category": "diy", "format": "video"})  # doctest: +SKIP
        >>> seg.summary()  # doctest: +SKIP
        """
        mask, label = _segment_mask(self.data, where)
        n = int(mask.sum())
        if n == 0:
            raise InsufficientDataError(
                f"The segment {label} has no rows among the explained items."
            )
        contrib = self.values[mask].mean(axis=0)
        typical = []
        for f in self.feature_names:
            col = self.data.loc[mask, f]
            if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
                col.dtype
            ):
                mode = col.astype(object).value_counts()
                share = mode.iloc[0] / n
                typical.append(f"{mode.index[0]}" + ("" if share == 1 else f" ({share:.0%})"))
            else:
                typical.append(f"{float(col.mean()):.3g}" + ("" if n == 1 else " (mean)"))
        df = pd.DataFrame(
            {"feature": list(self.feature_names), "value": typical, "contribution": contrib}
        )
        df = df.iloc[np.argsort(-np.abs(contrib), kind="stable")].reset_index(drop=True)
        return SegmentExplanation(
            name=name or label,
            n=n,
            base_value=self.base_value,
            effect=float(self.base_value + contrib.sum()),
            cate_mean=float(self.cate[mask].mean()),
            contributions=df,
        )

    # ------------------------------------------------------------------ plots
    def plot_importance(self, top: int = 15) -> Any:
        """Bars of the importance with their bands (matplotlib Figure)."""
        from causal.explain._plots import importance_bars

        return importance_bars(self, top=top)

    def plot_beeswarm(self, top: int = 12, max_points: int = 3000, seed: int = 0) -> Any:
        """Each item's SHAP value per modifier, coloured by the modifier's value (Figure)."""
        from causal.explain._plots import beeswarm

        return beeswarm(self, top=top, max_points=max_points, seed=seed)

    def plot_dependence(
        self, features: str | list[str] | None = None, top: int = 3, max_points: int = 3000
    ) -> Any:
        """SHAP value against the modifier's value for the top drivers (Figure)."""
        from causal.explain._plots import dependence

        if features is None:
            features = list(self.importance()["feature"].head(top))
        elif isinstance(features, str):
            features = [features]
        for f in features:
            if f not in self.feature_names:
                raise missing_column_error(f, self.feature_names, role="modifier")
        return dependence(self, features, max_points=max_points)

    def summary(self, top: int = 3) -> str:
        """A sentence naming the top drivers of the effect and the fidelity."""
        imp = self.importance().head(top)
        drivers = ", ".join(f"{r.feature} ({r.share:.0%})" for r in imp.itertuples())
        how = {
            "tree_path_dependent": "exact TreeSHAP (path-dependent) of a tree surrogate",
            "tree_interventional": "exact TreeSHAP (interventional) of a tree surrogate",
            "permutation": "permutation SHAP of the effect model itself",
            "constant": "the effect model's effect is constant",
        }[self.method]
        what = f" of {self.outcome}" if self.outcome else ""
        return (
            f"The effect{what} varies most with {drivers} of the total importance; "
            f"{how}, fidelity R² = {self.fidelity:.3f} on held-out rows."
        )

    def _repr_html_(self) -> str:
        imp = self.importance()
        rows = "".join(
            f"<tr><td>{html.escape(str(r.feature))}</td><td>{r.importance:.4g}</td>"
            f"<td>[{r.importance_ci_lower:.4g}, {r.importance_ci_upper:.4g}]</td>"
            f"<td>{r.share:.1%}</td></tr>"
            for r in imp.itertuples()
        )
        return (
            f"<div><p><b>Explanation</b> of the CATE"
            f"{' of ' + html.escape(self.outcome) if self.outcome else ''} — "
            f"{self.values.shape[0]:,} items × {len(self.feature_names)} modifiers, "
            f"base value {self.base_value:.4g}, method {html.escape(self.method)}, "
            f"fidelity {self.fidelity:.3f}</p><table><thead><tr><th>modifier</th>"
            "<th>importance (mean |SHAP|)</th><th>95% band</th><th>share</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        top = ", ".join(self.importance()["feature"].head(3))
        return (
            f"Explanation(n={self.values.shape[0]}, p={len(self.feature_names)}, "
            f"method={self.method!r}, fidelity={self.fidelity:.3f}, top=[{top}])"
        )


def _segment_mask(data: pd.DataFrame, where: Any) -> tuple[np.ndarray, str]:
    if isinstance(where, str):
        try:
            idx = data.query(where).index
        except Exception as exc:  # pandas raises many types for a bad expression
            raise ConfigError(
                f"The segment query {where!r} could not be evaluated on the modifiers "
                f"{list(data.columns)}: {exc}"
            ) from exc
        return data.index.isin(idx), where
    if isinstance(where, Mapping):
        mask = np.ones(len(data), dtype=bool)
        parts = []
        for col, cond in where.items():
            if col not in data.columns:
                raise missing_column_error(str(col), list(data.columns), role="segment column")
            s = data[col]
            if isinstance(cond, tuple):
                if len(cond) != 2:
                    raise ConfigError(
                        f"The segment range for '{col}' must be (low, high); got {cond!r}."
                    )
                lo, hi = cond
                if lo is not None:
                    mask &= (s >= lo).to_numpy()
                if hi is not None:
                    mask &= (s < hi).to_numpy()
                parts.append(
                    f"{'' if lo is None else f'{lo} <= '}{col}{'' if hi is None else f' < {hi}'}"
                )
            elif isinstance(cond, list | set | frozenset):
                mask &= s.astype(object).isin(list(cond)).to_numpy()
                parts.append(f"{col} in {sorted(map(str, cond))}")
            else:
                mask &= (s.astype(object) == cond).to_numpy()
                parts.append(f"{col} = {cond}")
        return mask, ", ".join(parts) or "all items"
    mask = np.asarray(where)
    if mask.dtype != bool or mask.shape != (len(data),):
        raise ConfigError(
            "The segment must be a dict of conditions, a query string, or a boolean mask with "
            f"one entry per explained row ({len(data)}); got {type(where).__name__}"
            f"{' of shape ' + str(mask.shape) if hasattr(mask, 'shape') else ''}."
        )
    return mask, "the segment"


# ---------------------------------------------------------------------------- computation
def _cate(
    estimator: Any, X: Any, outcome: str | int | None, T1: Any
) -> tuple[np.ndarray, str | None]:
    kwargs = {} if T1 is None else {"T1": T1}
    arr = np.asarray(estimator.effect(X, **kwargs), dtype=float)
    names = [str(o) for o in (getattr(estimator, "outcome_names_", None) or [])]
    if arr.ndim == 2 and arr.shape[1] == 1 and outcome is None:
        return arr[:, 0], (names[0] if names else None)
    if arr.ndim == 1:
        if outcome is not None and names and str(outcome) not in (names[0], "0") and outcome != 0:
            raise ConfigError(
                f"The 'outcome' parameter {outcome!r} is not an outcome of this model; it has "
                f"{names}."
            )
        return arr, (names[0] if names else None)
    if outcome is None:
        raise ConfigError(
            f"The effect model has {arr.shape[1]} outcomes {names or ''}; pass outcome=<name> "
            "to say which effect to explain."
        )
    if isinstance(outcome, int | np.integer) and not isinstance(outcome, bool):
        j = int(outcome)
    elif str(outcome) in names:
        j = names.index(str(outcome))
    else:
        raise ConfigError(
            f"The 'outcome' parameter {outcome!r} is not an outcome of this model; it has {names}."
        )
    if not 0 <= j < arr.shape[1]:
        raise ConfigError(f"The 'outcome' index {j} is out of range (0..{arr.shape[1] - 1}).")
    return arr[:, j], (names[j] if j < len(names) else str(j))


def _tree_shap(
    sur: Any, Z: np.ndarray, flavour: Flavour, background: np.ndarray
) -> tuple[np.ndarray, float]:
    if flavour == "interventional":
        import shap

        booster = _truncate(sur.booster, sur.n_trees)
        explainer = shap.TreeExplainer(
            booster, data=background, feature_perturbation="interventional"
        )
        vals = np.asarray(explainer.shap_values(Z, check_additivity=False), dtype=float)
        base = float(np.ravel(explainer.expected_value)[0])
        gap = np.abs(base + vals.sum(axis=1) - booster.predict(Z)).max()
        if gap > INTERVENTIONAL_ADDITIVITY_ATOL * (1.0 + np.abs(booster.predict(Z)).max()):
            raise ConfigError(  # pragma: no cover - guarded by the categorical check
                f"shap's interventional TreeSHAP is not additive on this surrogate (gap {gap:.3g});"
                " use flavour='path_dependent'."
            )
        return vals, base
    from causal.explain._treeshap import MAX_TABLE_DEPTH, build_tables, shap_values

    if sur.max_depth <= MAX_TABLE_DEPTH:
        tables = build_tables(sur.booster, num_iteration=sur.n_trees)
        return shap_values(tables, Z), tables.base_value
    contrib = sur.booster.predict(Z, num_iteration=sur.n_trees, pred_contrib=True)
    return contrib[:, :-1], float(contrib[0, -1])


def _truncate(booster: Any, n_trees: int) -> Any:
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=n_trees))


def _permutation(
    call: Any, enc: Encoded, rows: np.ndarray, background: np.ndarray, seed: int, progress: bool
) -> tuple[np.ndarray, float]:
    """shap's permutation SHAP with its model calls batched (:mod:`._permutation`)."""
    from causal.explain._permutation import permutation_shap

    return permutation_shap(
        lambda M: call(enc.decode(M)), enc.matrix[rows], background, seed=seed, progress=progress
    )


def explain(
    estimator: Any,
    X: Any,
    *,
    outcome: str | int | None = None,
    T1: Any = None,
    method: Method = "auto",
    flavour: Flavour = "path_dependent",
    min_fidelity: float = DEFAULT_MIN_FIDELITY,
    target_fidelity: float = DEFAULT_TARGET_FIDELITY,
    max_permutation_rows: int = 200,
    background: int = 100,
    random_state: int = 0,
    n_jobs: int | None = None,
    progress: bool = True,
) -> Explanation:
    """SHAP values of a fitted effect model's CATE: which modifiers make the effect vary.

    The model's ``effect(X)`` is distilled into a compact LightGBM surrogate (the cheapest that
    reaches ``target_fidelity`` held-out R^2; see :mod:`causal.explain._surrogate`), whose SHAP
    values are exact. Categorical modifiers are one feature each (LightGBM splits on them
    natively), never a set of dummies.

    Parameters
    ----------
    estimator : fitted effect model
        Anything with ``effect(X)`` and ``feature_names_in_`` — every model in ``estimators``,
        including the default ``AutoCate`` blend.
    X : DataFrame or array of shape (n, p)
        The items to explain (a DataFrame may hold other columns too; they are ignored).
    outcome : str or int, optional
        Which outcome, for a model fitted on several.
    T1 : optional
        The treatment arm, for a multi-arm model (passed to ``effect``).
    method : {"auto", "surrogate", "permutation"}
        ``"surrogate"`` refuses (:class:`LowFidelityError`) below ``min_fidelity``; ``"auto"``
        then falls back, with a :class:`FidelityWarning`, to ``"permutation"``: model-agnostic
        permutation SHAP of the model itself on ``max_permutation_rows`` sampled rows (shap's
        PermutationExplainer algorithm with its model calls batched: about 5,000 model rows per
        explained row for 7 modifiers, see :mod:`causal.explain._permutation`).
    flavour : {"path_dependent", "interventional"}
        Which TreeSHAP. ``"path_dependent"`` (default) weights the branches a coalition does
        not fix by the surrogate's training cover — i.e. by the distribution of the modifiers —
        and costs no background data: with our lookup tables, 100k rows take about a second.
        ``"interventional"`` (shap's TreeExplainer with ``background`` rows) breaks the
        dependence between modifiers ("true to the model"); prefer it when modifiers are
        strongly correlated and you want credit to follow what the model uses, at a cost
        proportional to the background size. Permutation SHAP is interventional.
    min_fidelity, target_fidelity : float
        Refusal threshold and the fidelity at which the cheapest surrogate is good enough.
    max_permutation_rows, background : int
        Rows explained and background rows for the permutation / interventional paths.
    random_state : int
        Seeds the surrogate's train / held-out split, LightGBM and any sampling.
    n_jobs : int, optional
        Threads for LightGBM (default: all cores).
    progress : bool
        Show a progress bar on the permutation path.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> import causal, estimators
    >>> from causal.explain import explain
    >>> df = causal.simulate_content(n=2000, seed=1)
    >>> X = df[["quality_score", "age_days", "format", "creator_followers"]]
    >>> est = estimators.LinearDML(random_state=0).fit(df["saves"], df["boosted"], X=X)
    >>> ex = explain(est, X)
    >>> list(ex.importance().columns[:2])
    ['feature', 'importance']
    >>> bool(abs(ex.base_value + ex.values.sum(axis=1) - ex.prediction).max() < 1e-9)
    True
    """
    if method not in ("auto", "surrogate", "permutation"):
        raise ConfigError(
            f"The 'method' parameter must be one of 'auto', 'surrogate', 'permutation'. "
            f"Got {method!r}."
        )
    if flavour not in ("path_dependent", "interventional"):
        raise ConfigError(
            f"The 'flavour' parameter must be 'path_dependent' or 'interventional'. Got {flavour!r}."
        )
    for pname, val in (("min_fidelity", min_fidelity), ("target_fidelity", target_fidelity)):
        if not 0.0 <= float(val) < 1.0:
            raise ConfigError(f"The '{pname}' parameter must be in [0, 1). Got {val!r}.")
    for pname, ival in (("max_permutation_rows", max_permutation_rows), ("background", background)):
        if int(ival) < 1:
            raise ConfigError(f"The '{pname}' parameter must be a positive integer. Got {ival!r}.")
    features = estimator_features(estimator)
    frame = modifier_frame(X, features)
    n = len(frame)
    if n < MIN_ROWS and method != "permutation":
        raise InsufficientDataError(
            f"X has {n} rows; explaining through a surrogate needs at least {MIN_ROWS} (to fit "
            "it and check it on held-out rows). Pass more rows or method='permutation'."
        )
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    x_in = frame if isinstance(X, pd.DataFrame) else np.asarray(X)
    tau, outcome_name = _cate(estimator, x_in, outcome, T1)
    seconds["effect"] = time.perf_counter() - t0
    if tau.shape != (n,) or not np.isfinite(tau).all():
        raise ConfigError(
            f"effect(X) of {type(estimator).__name__} returned {tau.shape} values"
            f"{'' if np.isfinite(tau).all() else ' with NaN/inf'}; expected {n} finite values."
        )
    enc = encode(frame)
    if flavour == "interventional" and enc.categories and method != "permutation":
        raise ConfigError(
            "flavour='interventional' cannot explain categorical modifiers "
            f"{sorted(enc.categories)}: shap's interventional TreeSHAP mishandles LightGBM's "
            "categorical splits (its values then do not add up to the prediction). Use "
            "flavour='path_dependent' (default), or method='permutation' (interventional, slow)."
        )
    rng = np.random.default_rng(random_state)
    bg = enc.matrix[rng.choice(n, size=min(background, n), replace=False)]

    def call(df: pd.DataFrame) -> np.ndarray:
        return _cate(estimator, df if isinstance(X, pd.DataFrame) else df.to_numpy(), outcome, T1)[
            0
        ]

    scale = max(float(np.abs(tau).max()), 1e-300)
    if float(tau.std()) <= 1e-12 * scale or float(tau.std()) == 0.0:
        return Explanation(
            values=np.zeros((n, len(features))), base_value=float(tau.mean()),
            feature_names=tuple(features), data=frame, cate=tau, fidelity=1.0,
            method="constant", surrogate={}, outcome=outcome_name, seconds=seconds,
        )  # fmt: skip

    sur_info: dict[str, Any] = {}
    fidelity = 1.0
    if method != "permutation":
        from causal.explain._surrogate import fit_surrogate

        sur = fit_surrogate(
            enc.matrix, tau, enc.categorical_index,
            target=float(target_fidelity), seed=int(random_state), n_jobs=n_jobs,
            query=lambda M: call(enc.decode(M)),
        )  # fmt: skip
        seconds["surrogate"] = sur.fit_seconds
        sur_info = {
            "candidate": sur.name, "n_trees": sur.n_trees, "max_depth": sur.max_depth,
            "n_train": sur.n_train, "n_holdout": sur.n_holdout, "n_synthetic": sur.n_synthetic,
            "tried": list(sur.tried),
        }  # fmt: skip
        if sur.fidelity >= min_fidelity:
            t1 = time.perf_counter()
            values, base = _tree_shap(sur, enc.matrix, flavour, bg)
            seconds["shap"] = time.perf_counter() - t1
            return Explanation(
                values=values, base_value=base, feature_names=tuple(features), data=frame,
                cate=tau, fidelity=sur.fidelity, method=f"tree_{flavour}", surrogate=sur_info,
                outcome=outcome_name, seconds=seconds,
            )  # fmt: skip
        msg = (
            f"The tree surrogate of {type(estimator).__name__} reaches a held-out R² of only "
            f"{sur.fidelity:.3f} (< min_fidelity={min_fidelity}; tried {list(sur.tried)}), so "
            "its SHAP values would not describe the effect model."
        )
        if method == "surrogate":
            raise LowFidelityError(
                msg + " Use method='permutation' (model-agnostic, slow, on a sample), or pass "
                "a lower min_fidelity if an approximate picture is enough."
            )
        warnings.warn(
            msg + f" Falling back to permutation SHAP on {min(max_permutation_rows, n)} rows.",
            FidelityWarning,
            stacklevel=2,
        )
    rows = np.sort(rng.choice(n, size=min(max_permutation_rows, n), replace=False))
    t1 = time.perf_counter()
    values, base = _permutation(call, enc, rows, bg, int(random_state), progress)
    seconds["shap"] = time.perf_counter() - t1
    return Explanation(
        values=values, base_value=base, feature_names=tuple(features), data=frame.iloc[rows],
        cate=tau[rows], fidelity=fidelity, method="permutation", surrogate=sur_info,
        outcome=outcome_name, seconds=seconds,
    )  # fmt: skip
