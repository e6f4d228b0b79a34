"""Predictive vs causal importance: SHAP of an outcome model beside SHAP of the effect model."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError, MissingValuesError
from causal.explain._explain import Explanation, _tree_shap, explain
from causal.explain._frame import encode, estimator_features, modifier_frame

__all__ = ["ImportanceComparison", "compare"]


@dataclass(frozen=True, eq=False)
class ImportanceComparison:
    """The same modifiers ranked by what predicts the outcome and by what changes the effect.

    Attributes
    ----------
    table : DataFrame
        ``feature``, ``causal_importance``, ``causal_share``, ``causal_rank``,
        ``predictive_importance``, ``predictive_share``, ``predictive_rank``; sorted by causal
        importance.
    causal : Explanation
        SHAP of the effect model's CATE.
    predictive : Explanation
        SHAP of a LightGBM outcome model ``Y ~ X`` (its ``fidelity`` is its held-out R^2 for
        ``Y``, i.e. how well the modifiers predict the outcome).
    text : str
        The paragraph a DS lead would give (see :meth:`summary`).
    """

    table: pd.DataFrame
    causal: Explanation
    predictive: Explanation
    text: str

    def to_pandas(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table.copy()

    def summary(self) -> str:
        """Why "what predicts the outcome" is not "what makes the treatment work"."""
        return self.text

    def plot(self, top: int = 12) -> Any:
        """Side-by-side bars of predictive and causal importance shares (matplotlib Figure)."""
        from causal.explain._plots import compare_bars

        return compare_bars(self.table, self.causal.outcome, top=top)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.feature))}</td><td>{r.predictive_share:.1%}</td>"
            f"<td>{r.predictive_rank}</td><td>{r.causal_share:.1%}</td><td>{r.causal_rank}</td></tr>"
            for r in self.table.itertuples()
        )
        return (
            f"<div><p>{html.escape(self.text)}</p><table><thead><tr><th>modifier</th>"
            "<th>predictive share</th><th>predictive rank</th><th>causal share</th>"
            f"<th>causal rank</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


def _outcome_vector(Y: Any, n: int, outcome: str | int | None) -> tuple[np.ndarray, str | None]:
    if isinstance(Y, pd.DataFrame):
        if Y.shape[1] == 1:
            return Y.iloc[:, 0].to_numpy(dtype=float), str(Y.columns[0])
        if outcome is None:
            raise ConfigError(f"Y has {Y.shape[1]} columns {list(Y.columns)}; pass outcome=<name>.")
        if outcome not in Y.columns:
            from causal.data._readers import missing_column_error

            raise missing_column_error(str(outcome), list(Y.columns), role="outcome column")
        return Y[outcome].to_numpy(dtype=float), str(outcome)
    name = str(Y.name) if isinstance(Y, pd.Series) and Y.name is not None else None
    y = np.asarray(Y, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ConfigError(f"Y must have one value per row of X ({n}); got shape {y.shape}.")
    return y, name


def _predictive(frame: pd.DataFrame, y: np.ndarray, seed: int, n_jobs: int | None) -> Explanation:
    import lightgbm as lgb

    from causal.explain._surrogate import MAX_TREES, Surrogate, _split, _threads, r2

    enc = encode(frame)
    train, hold = _split(len(y), np.random.default_rng(seed))
    dtrain = lgb.Dataset(enc.matrix[train], y[train], categorical_feature=enc.categorical_index,
                         free_raw_data=False)  # fmt: skip
    params = {
        "objective": "regression", "max_depth": 3, "num_leaves": 8, "learning_rate": 0.05,
        "verbose": -1, "seed": seed, "deterministic": True, "num_threads": _threads(n_jobs, train.size),
    }  # fmt: skip
    bst = lgb.train(
        params, dtrain, num_boost_round=MAX_TREES,
        valid_sets=[dtrain.create_valid(enc.matrix[hold], y[hold])],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )  # fmt: skip
    n_trees = int(bst.best_iteration or bst.num_trees())
    fid = r2(y[hold], np.asarray(bst.predict(enc.matrix[hold], num_iteration=n_trees), dtype=float))
    sur = Surrogate(bst, "outcome_model", n_trees, 3, fid, train.size, hold.size, 0, 0.0)
    values, base = _tree_shap(sur, enc.matrix, "path_dependent", enc.matrix[:0])
    return Explanation(
        values=values, base_value=base, feature_names=tuple(frame.columns), data=frame,
        cate=y, fidelity=fid, method="tree_path_dependent",
        surrogate={"candidate": "outcome_model", "n_trees": n_trees, "max_depth": 3},
    )  # fmt: skip


def _paragraph(table: pd.DataFrame, outcome: str | None, pred_r2: float) -> str:
    y = outcome or "the outcome"
    by_pred = table.sort_values("predictive_importance", ascending=False)
    top_pred = list(by_pred["feature"].head(3))
    top_causal = list(table["feature"].head(3))
    # strong predictors that barely move the effect, and the reverse
    predict_only = [
        r.feature for r in by_pred.head(5).itertuples()
        if r.causal_share < 0.5 * r.predictive_share and r.causal_rank > 3
    ]  # fmt: skip
    effect_only = [
        r.feature for r in table.head(5).itertuples()
        if r.predictive_share < 0.5 * r.causal_share and r.predictive_rank > 3
    ]  # fmt: skip
    text = (
        f"Predictive SHAP answers 'which items get a lot of {y}?': the outcome model "
        f"(held-out R² {pred_r2:.2f}) leans on {', '.join(top_pred)}. Causal SHAP answers 'for "
        f"which items does the treatment add the most {y}?': the effect varies most with "
        f"{', '.join(top_causal)}. "
    )
    if predict_only:
        text += (
            f"{', '.join(predict_only)} predict{'s' if len(predict_only) == 1 else ''} {y} "
            "well but hardly change what the treatment adds — they describe who does well "
            "anyway, not where the treatment pays off. "
        )
    if effect_only:
        text += (
            f"{', '.join(effect_only)} matter{'s' if len(effect_only) == 1 else ''} for the "
            f"effect far more than for predicting {y}. "
        )
    text += (
        "Target the treatment by the causal ranking and forecast with the predictive one. Both "
        "describe models, not mechanisms: the causal ranking is only as credible as the effect "
        "model's assumptions (no unmeasured confounding, overlap)."
    )
    return text


def compare(
    estimator: Any,
    X: Any,
    Y: Any,
    *,
    outcome: str | int | None = None,
    T1: Any = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    **explain_kwargs: Any,
) -> ImportanceComparison:
    """Rank the modifiers by predictive importance (SHAP of ``Y ~ X``) and by causal importance
    (SHAP of the effect model's CATE), in one table.

    Parameters
    ----------
    estimator : fitted effect model
    X : DataFrame or array
        The modifiers (rows as in ``Y``).
    Y : array-like, Series or DataFrame
        The observed outcome (a column of ``Y`` named by ``outcome`` if several).
    outcome, T1 : optional
        As in :func:`explain`.
    **explain_kwargs
        Passed to :func:`explain` for the causal side.

    Returns
    -------
    ImportanceComparison

    Examples
    --------
    >>> import causal, estimators
    >>> from causal.explain import compare
    >>> df = causal.simulate_content(n=2000, seed=1)
    >>> X = df[["quality_score", "age_days", "creator_followers"]]
    >>> est = estimators.LinearDML(random_state=0).fit(df["saves"], df["boosted"], X=X)
    >>> cmp = compare(est, X, df["saves"])
    >>> list(cmp.table.columns[:3])
    ['feature', 'causal_importance', 'causal_share']
    """
    features = estimator_features(estimator)
    frame = modifier_frame(X, features)
    y, y_name = _outcome_vector(Y, len(frame), outcome)
    if not np.isfinite(y).all():
        raise MissingValuesError(
            f"Y has {int((~np.isfinite(y)).sum())} missing or infinite values; drop those rows."
        )
    causal_ex = explain(
        estimator, X, outcome=outcome, T1=T1, random_state=random_state, n_jobs=n_jobs,
        **explain_kwargs,
    )  # fmt: skip
    pred_ex = _predictive(frame, y, random_state, n_jobs)
    ci = causal_ex.importance().set_index("feature")
    pi = pred_ex.importance().set_index("feature")
    table = pd.DataFrame(
        {
            "feature": features,
            "causal_importance": ci.loc[features, "importance"].to_numpy(),
            "causal_share": ci.loc[features, "share"].to_numpy(),
            "predictive_importance": pi.loc[features, "importance"].to_numpy(),
            "predictive_share": pi.loc[features, "share"].to_numpy(),
        }
    )
    table["causal_rank"] = (
        table["causal_importance"].rank(ascending=False, method="min").astype(int)
    )
    table["predictive_rank"] = (
        table["predictive_importance"].rank(ascending=False, method="min").astype(int)
    )
    table = table.sort_values("causal_importance", ascending=False, kind="stable")
    table = table.reset_index(drop=True)[
        ["feature", "causal_importance", "causal_share", "causal_rank",
         "predictive_importance", "predictive_share", "predictive_rank"]
    ]  # fmt: skip
    text = _paragraph(table, causal_ex.outcome or y_name, pred_ex.fidelity)
    return ImportanceComparison(table=table, causal=causal_ex, predictive=pred_ex, text=text)
