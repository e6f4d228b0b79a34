"""Segment effects (GATE) with doubly-robust intervals as Spark aggregations.

The doubly-robust (AIPW) score of each row is computed on the executors from the model's
cross-fitted nuisance models (broadcast: a few MB, not the training data); only per-group
sufficient statistics come back to the driver, which turns them into the numbers of
:func:`estimators.evaluate`'s GATE table (``estimators._scores.gate_table``) — the same
estimates, HC1 / CR2 standard errors, intervals, p-values and sup-t band, equal to 1e-9.

Sufficient statistics (one ``groupingSets`` aggregation over the scores):

- unit level: per segment value and per pair of values of two segment columns, ``count``,
  ``avg`` and ``var_samp`` of the scores (Spark merges partial moments with the pairwise
  update, so no sum-of-squares cancellation); ``se^2 = var_samp / n`` is HC1 of a mean, and the
  band's covariance of segments ``s``, ``t`` of two columns is
  ``(M2_st + n_st (m_st - theta_s)(m_st - theta_t)) / (n_s n_t)`` over their common rows;
- clustered: per cluster and segment value, ``count`` and ``sum`` of the scores; the driver
  forms the cluster sums of the influence terms ``S_g = sum_g - n_g theta`` and leverages
  ``n_g / n`` and calls the same CR2 function as the estimators (``cluster_cr2``). This brings
  ``clusters x (1 + segment columns)`` rows to the driver.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import (
    CausalError,
    ConfigError,
    MissingValuesError,
    NonNumericColumnError,
    NotFittedError,
    UnknownVariantError,
)
from causal.data import missing_column_error
from causal.experiments._spark import SparkEngine, _col, check_python_workers, require_pyspark

__all__ = ["DRScorer", "SegmentEffects", "check_table", "dr_scorer", "segment_effects"]

TABLE_COLUMNS = [
    "segment", "column", "value", "n", "effect", "se", "effect_ci_lower", "effect_ci_upper",
    "pvalue", "band_lower", "band_upper",
]  # fmt: skip


def _context(model: Any) -> Any:
    """The fitted context of an ``estimators`` model (a clear error otherwise)."""
    fitted = getattr(model, "_fitted", None)
    if fitted is None:
        raise ConfigError(
            f"Expected a fitted model from 'estimators' (or a SampleFit); got "
            f"{type(model).__name__}."
        )
    try:
        return fitted()
    except Exception as exc:  # estimators' own not-fitted error
        raise NotFittedError(f"The model is not fitted: {exc}") from None


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


class DRScorer:
    """What the executors need to compute a row's doubly-robust score: the broadcast object.

    Holds the modifier and confounder schemas (names, dtypes, categorical levels), the
    treatment levels (control first), the propensity clip, and per cross-fitting fold the
    chosen outcome models of the arm and of control and the propensity model; optionally the
    ids of the rows the model was fitted on and their folds. No training data. For a row the
    model was fitted on, the nuisances come from its own fold's models (trained without it:
    the model's out-of-fold scores, ``est``'s ``dr``); for any other row, the average of the
    fold models' predictions (each was trained without it).

    Built by :func:`dr_scorer`; ``scores(frame)`` works on a pandas batch (what the executors
    run, and the in-process reference).
    """

    def __init__(
        self,
        *,
        x_schema: list[Any],
        w_schema: list[Any],
        levels: tuple[Any, ...],
        arm: int,
        clip: float,
        mu_arm: list[Any],
        mu_control: list[Any],
        e_models: list[Any],
        outcome: str,
        treatment: str,
        row_id: str | None = None,
        fit_ids: np.ndarray | None = None,
        fit_folds: np.ndarray | None = None,
    ) -> None:
        self.x_schema, self.w_schema = list(x_schema), list(w_schema)
        self.levels, self.arm, self.clip = tuple(levels), int(arm), float(clip)
        self.mu_arm, self.mu_control, self.e_models = list(mu_arm), list(mu_control), e_models
        self.outcome, self.treatment = outcome, treatment
        self.row_id, self.fit_ids, self.fit_folds = row_id, fit_ids, fit_folds
        self._index: pd.Index | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_index"] = None  # rebuilt once per executor
        return state

    @property
    def columns(self) -> list[str]:
        """Input columns a batch must hold."""
        cols = [c.name for c in self.x_schema] + [c.name for c in self.w_schema]
        cols += [self.treatment, self.outcome] + ([self.row_id] if self.row_id else [])
        return list(dict.fromkeys(cols))

    def folds_of(self, frame: pd.DataFrame) -> np.ndarray:
        """Fold of each row the model was fitted on, -1 for the others."""
        if self.fit_ids is None or self.row_id is None:
            return np.full(len(frame), -1)
        if self._index is None:
            self._index = pd.Index(self.fit_ids)
        pos = self._index.get_indexer(frame[self.row_id].to_numpy())
        assert self.fit_folds is not None
        return np.where(pos >= 0, self.fit_folds[np.maximum(pos, 0)], -1)

    def _predict(self, models: list[Any], Z: pd.DataFrame, folds: np.ndarray, proba: bool) -> Any:
        preds = [np.asarray(m.predict_proba(Z) if proba else m.predict(Z), float) for m in models]
        out = np.mean(preds, axis=0)  # rows not used in the fit: every fold model is honest
        for k, p in enumerate(preds):
            rows = folds == k
            if rows.any():
                out[rows] = p[rows]  # fit rows: their own fold's model (out of fold)
        return out

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(doubly-robust scores, fold of each row or -1) for a pandas batch."""
        from estimators.inference import aipw_scores, frame_like

        parts = []
        if self.x_schema:
            parts.append(
                frame_like(frame[[c.name for c in self.x_schema]], self.x_schema, "X", "x")
            )
        if self.w_schema:
            parts.append(
                frame_like(frame[[c.name for c in self.w_schema]], self.w_schema, "W", "w")
            )
        Z = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=pd.RangeIndex(len(frame)))
        folds = self.folds_of(frame)
        mu1 = self._predict(self.mu_arm, Z, folds, proba=False)
        mu0 = self._predict(self.mu_control, Z, folds, proba=False)
        e = self._predict(self.e_models, Z, folds, proba=True)
        t = frame[self.treatment].astype(object).to_numpy()
        is_arm = t == self.levels[self.arm]
        is_ctl = t == self.levels[0]
        y = frame[self.outcome].to_numpy(dtype=float)
        psi = aipw_scores(y, is_arm, is_ctl, mu1, mu0, e[:, self.arm], e[:, 0], clip=self.clip)
        return psi, folds


def dr_scorer(
    model: Any,
    *,
    outcome: str,
    treatment: str,
    T1: Any = None,
    row_id: str | None = None,
    fit_ids: Any = None,
) -> DRScorer:
    """The broadcastable :class:`DRScorer` of a fitted discrete-treatment ``estimators`` model.

    ``outcome``/``treatment`` are the data's column names; the model's outcome is the only one
    it has, or the one named ``outcome``. ``fit_ids``: the ``row_id`` values of the rows the
    model was fitted on, in the order they were passed to ``fit``.
    """
    sample = None
    if hasattr(model, "row_ids") and hasattr(model, "model"):  # a SampleFit
        sample = model
        model = sample.model
        row_id = row_id or sample.row_id
        fit_ids = sample.row_ids if fit_ids is None else fit_ids
    ctx = _context(model)
    d = ctx.data
    if not d.discrete or ctx.nuis.e_models is None or ctx.nuis.mu_models is None:
        raise ConfigError(
            "Segment effects with doubly-robust intervals need a model fitted with a discrete "
            "treatment (a continuous boost intensity has no per-arm scores)."
        )
    names = list(d.outcome_names)
    if len(names) == 1:
        j = 0
    elif outcome in names:
        j = names.index(outcome)
    else:
        raise ConfigError(
            f"The model has outcomes {names}; name the data's outcome column like one of them "
            f"(got '{outcome}')."
        )
    arms = list(d.levels[1:])
    if T1 is None:
        if len(arms) != 1:
            raise ConfigError(f"The model has arms {arms}; choose one with T1=.")
        a = 1
    elif T1 in arms:
        a = arms.index(T1) + 1
    else:
        raise ConfigError(f"T1={T1!r} is not one of the model's arms {arms}.")
    ids = folds = None
    if fit_ids is not None:
        if row_id is None:
            raise ConfigError("fit_ids needs row_id: the column holding those ids.")
        ids = np.asarray(fit_ids)
        if ids.shape != (d.n,):
            raise ConfigError(
                f"fit_ids has {ids.size} values but the model was fitted on {d.n} rows; pass "
                "the row ids of the fitted rows in fit order."
            )
        if pd.Index(ids).has_duplicates:
            raise ConfigError(f"The '{row_id}' values in fit_ids are not unique.")
        folds = np.asarray(ctx.nuis.folds)
    return DRScorer(
        x_schema=d.x_schema,
        w_schema=d.w_schema,
        levels=d.levels,
        arm=a,
        clip=ctx.clip,
        mu_arm=ctx.nuis.mu_models[j][a],
        mu_control=ctx.nuis.mu_models[j][0],
        e_models=ctx.nuis.e_models,
        outcome=outcome,
        treatment=treatment,
        row_id=row_id,
        fit_ids=ids,
        fit_folds=folds,
    )


@dataclasses.dataclass(frozen=True)
class SegmentEffects:
    """Segment effects (GATE) with doubly-robust intervals and a simultaneous band.

    Attributes
    ----------
    table : DataFrame
        One row per segment value: segment, column, value, n, effect, se, effect_ci_lower,
        effect_ci_upper, pvalue, band_lower, band_upper (the columns of
        ``estimators.evaluate(...).gate``).
    ate : estimators.ATEResult
        The doubly-robust ATE over every row of the table.
    band_critical_value : float
        Normal sup-t critical value of the band.
    alpha : float
    outcome, treatment : str
        The outcome column and ``"<arm> vs <control>"``.
    n : int
        Rows scored.
    n_clusters : int or None
        Clusters (cluster-robust CR2 intervals), or None.
    n_fit_rows : int
        Rows of the table the model was fitted on (scored with out-of-fold nuisances).
    sample : dict or None
        The stratified fitting sample (size, seed, strata) when the model came from
        :func:`causal.spark.fit_on_sample`.
    """

    table: pd.DataFrame
    ate: Any
    band_critical_value: float
    alpha: float
    outcome: str
    treatment: str
    n: int
    n_clusters: int | None
    n_fit_rows: int
    sample: dict[str, Any] | None = None

    @property
    def nuisances(self) -> str:
        """How each row's nuisances were obtained (for a methods section)."""
        other = self.n - self.n_fit_rows
        return (
            f"Doubly-robust scores from the model's cross-fitted nuisance models: out of fold "
            f"for the {self.n_fit_rows:,} rows used in the fit, the average of the fold models "
            f"for the other {other:,} rows."
        )

    def to_pandas(self) -> pd.DataFrame:
        """The GATE table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ATE, segments (the ``summary.json`` shape), band, sample."""
        from causal.stats._results import _plain  # one numpy-to-JSON conversion

        ate = {k: getattr(self.ate, k) for k in
               ("effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue")}  # fmt: skip
        segments = [
            {"segment": {r["column"]: r["value"]}, "n": r["n"],
             **{k: r[k] for k in TABLE_COLUMNS[4:]}}
            for r in self.table.to_dict("records")
        ]  # fmt: skip
        out = {
            "outcome": self.outcome, "treatment": self.treatment, "n": self.n,
            "n_clusters": self.n_clusters, "alpha": self.alpha, "ate": ate,
            "segments": segments, "band_critical_value": self.band_critical_value,
            "nuisances": self.nuisances, "sample": self.sample,
        }  # fmt: skip
        return _plain(out)

    def _repr_html_(self) -> str:
        head = (
            f"<p>{html.escape(self.outcome)}, {html.escape(self.treatment)}: ATE "
            f"{self.ate.effect:.4g} [{self.ate.effect_ci_lower:.4g}, "
            f"{self.ate.effect_ci_upper:.4g}], n = {self.n:,}</p>"
        )
        if self.sample:
            head += f"<p>{html.escape(str(self.sample.get('note', '')))}</p>"
        return head + self.table.to_html(index=False, escape=True, float_format="{:.4g}".format)


def _finish_unit(theta: float, var: float, alpha: float) -> tuple[float, float, float, float]:
    """se, ci, p of a mean with HC1 variance ``var``: ``estimators._aipw._finish``'s unit
    branch (normal reference)."""
    from scipy import stats

    se = float(np.sqrt(var))
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(theta) / se)) if se > 0 else float("nan")
    return se, theta - z * se, theta + z * se, p


def _finish_cluster(
    theta: float, sums: np.ndarray, counts: np.ndarray, alpha: float
) -> tuple[float, float, float, float, float, int]:
    """se, ci, p, dof, G from per-cluster score sums and counts (CR2, Bell–McCaffrey)."""
    from scipy import stats

    from estimators.inference import cluster_cr2

    n = float(counts.sum())
    infl = sums - counts * theta  # per-cluster sums of (score - theta)
    var, dof, g = cluster_cr2(infl, counts / n, np.arange(counts.size), n)
    ref = stats.t(dof)
    se = float(np.sqrt(var))
    z = float(ref.ppf(1 - alpha / 2))
    p = float(2 * ref.sf(abs(theta) / se)) if se > 0 else float("nan")
    return se, theta - z * se, theta + z * se, p, dof, g


def _sort_values(values: list[Any]) -> list[Any]:
    return sorted(values, key=lambda v: (str(type(v)), v))  # as estimators' gate_table


def segment_effects(
    model: Any,
    data: Any,
    *,
    treatment: str,
    outcome: str,
    segments: list[str] | tuple[str, ...] = (),
    cluster: str | None = None,
    alpha: float = 0.05,
    T1: Any = None,
    row_id: str | None = None,
    fit_ids: Any = None,
    random_state: int = 0,
    spark: Any = None,
) -> SegmentEffects:
    """Segment effects (GATE) with doubly-robust intervals over a Spark table.

    The doubly-robust (AIPW) score of every row is computed on the executors from the model's
    cross-fitted nuisance models (``mapInPandas``; the models are broadcast, never the training
    data), and one Spark aggregation reduces the scores to per-segment sufficient statistics.
    The numbers are those of :func:`estimators.evaluate`'s ``gate`` table on the same scores:
    mean score per segment, HC1 (or with ``cluster`` CR2 with Bell–McCaffrey degrees of
    freedom) standard errors, pointwise intervals and a sup-t simultaneous band.

    Parameters
    ----------
    model : fitted ``estimators`` model (discrete treatment) or :class:`SampleFit`
    data : Spark DataFrame, table name, .parquet/.csv path or pandas DataFrame
        Holds the model's modifier and confounder columns, ``treatment``, ``outcome``, the
        ``segments`` and ``cluster`` columns.
    treatment, outcome : str
        Columns; treatment values must be the model's levels.
    segments : list of str
        One GATE row per value of each column (values sorted).
    cluster : str, optional
        Cluster ids: cluster-robust CR2 intervals.
    alpha : float
    T1 : the arm, for a model with several arms
    row_id, fit_ids : optional
        The id column and the ids of the rows the model was fitted on, in fit order (a
        :class:`SampleFit` brings both). Those rows are scored with their out-of-fold
        nuisances, exactly as ``evaluate`` scores the fitting rows. Without them every row is
        scored with the average of the fold models, which is honest only for rows the model
        was NOT fitted on: pass them when the table contains the fitting rows.
    random_state : int
        Seed of the band's Monte Carlo critical value (as in ``evaluate``).
    spark : SparkSession, optional

    Returns
    -------
    SegmentEffects

    Notes
    -----
    Broadcast: the :class:`DRScorer` (per fold, the outcome models of the arm and control and
    the propensity model: ~0.5 MB for a LightGBM library fit; plus 16 B per fitted row id).
    Shuffled: only partial aggregates (unit level: groups x 3 numbers); clustered, the
    per-cluster sums (clusters x segment columns rows, brought to the driver).

    Examples
    --------
    >>> ge = segment_effects(est, "events", treatment="boosted", outcome="saves",
    ...                      segments=["country"])  # doctest: +SKIP
    >>> ge.to_pandas()  # doctest: +SKIP
    """
    require_pyspark()
    from pyspark.errors import PySparkException

    sample = getattr(model, "summary", None) if hasattr(model, "row_ids") else None
    if not 0.0 < float(alpha) < 0.5:
        raise ConfigError(f"The 'alpha' parameter must be in (0, 0.5). Got {alpha!r}.")
    segments = list(dict.fromkeys(segments))
    scorer = dr_scorer(
        model, outcome=outcome, treatment=treatment, T1=T1, row_id=row_id, fit_ids=fit_ids
    )
    engine = SparkEngine(spark)
    try:
        df = engine._frame(data)
        check_python_workers(engine.spark, ("pandas", "pyarrow", "estimators", "causal"))
        _check(df, scorer, segments, cluster)
        return _segment_effects(engine, df, scorer, segments, cluster, alpha, random_state,
                                sample)  # fmt: skip
    except CausalError:
        raise
    except PySparkException as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CausalError(f"Spark failed while computing segment effects: {msg}") from None


def _check(df: Any, scorer: DRScorer, segments: list[str], cluster: str | None) -> None:
    """Columns present, outcome numeric, no missing values, treatment levels and categorical
    modifier levels seen in fit: one Spark aggregation, clear errors."""
    extra = [*segments, *([cluster] if cluster else [])]
    check_table(
        df,
        needed=list(dict.fromkeys([*scorer.columns, *extra])),
        categorical=[c for c in scorer.x_schema + scorer.w_schema if c.categorical],
        numeric=[c.name for c in scorer.x_schema + scorer.w_schema if not c.categorical],
        outcome=scorer.outcome,
        treatment=scorer.treatment,
        levels=scorer.levels,
    )


def check_table(
    df: Any,
    *,
    needed: list[str],
    categorical: list[Any],
    outcome: str | None = None,
    treatment: str | None = None,
    levels: tuple[Any, ...] = (),
    numeric: list[str] | tuple[str, ...] = (),
) -> None:
    """Columns present, outcome and ``numeric`` columns (numeric in fit) numeric, no missing
    values, treatment values among ``levels``, categorical columns' values seen in fit: one
    Spark aggregation, clear errors."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = {f.name: f.dataType for f in df.schema.fields}
    for c in needed:
        if c not in schema:
            raise missing_column_error(c, list(schema))
    if outcome is not None and not isinstance(schema[outcome], T.NumericType | T.BooleanType):
        raise NonNumericColumnError(
            f"The outcome column '{outcome}' must be numeric but holds "
            f"{schema[outcome].simpleString()} values; convert it to numbers."
        )
    for c in numeric:
        if c in schema and not isinstance(schema[c], T.NumericType | T.BooleanType):
            raise NonNumericColumnError(
                f"Column '{c}' was numeric when the model was fitted but holds "
                f"{schema[c].simpleString()} values here; cast it to a number "
                f"(e.g. df.withColumn('{c}', F.col('{c}').cast('double')))."
            )
    aggs = []
    for c in needed:
        miss = _col(c).isNull()
        if isinstance(schema[c], T.FloatType | T.DoubleType):
            miss = miss | F.isnan(_col(c))
        aggs.append(F.count(F.when(miss, 1)).alias(f"null_{len(aggs)}"))
    plain = [_py(v) for v in levels]
    if treatment is not None:
        aggs.append(F.count(F.when(~_col(treatment).isin(plain), 1)).alias("bad_t"))
    for i, c in enumerate(categorical):
        seen = [_py(v) for v in c.levels]
        aggs.append(F.count(F.when(~_col(c.name).isin(seen), 1)).alias(f"cat_{i}"))
    aggs.append(F.count(F.lit(1)).alias("n"))
    row = df.agg(*aggs).collect()[0].asDict()
    for i, c in enumerate(needed):
        k = int(row[f"null_{i}"])
        if k:
            raise MissingValuesError(
                f"Column '{c}' has missing values in {k:,} of {int(row['n']):,} rows; fill or "
                "drop them first."
            )
    if treatment is not None and int(row["bad_t"]):
        raise UnknownVariantError(
            f"The treatment column '{treatment}' has {int(row['bad_t']):,} rows with "
            f"values other than the model's levels {plain}; filter them out."
        )
    for i, c in enumerate(categorical):
        if int(row[f"cat_{i}"]):
            raise ConfigError(
                f"Column '{c.name}' has {int(row[f'cat_{i}']):,} rows with levels the model did "
                "not see in fit; map them to a seen level or refit."
            )
    if int(row["n"]) < 2 and treatment is not None:
        raise ConfigError("Segment effects need at least two rows.")


def _segment_effects(
    engine: Any,
    df: Any,
    scorer: DRScorer,
    segments: list[str],
    cluster: str | None,
    alpha: float,
    random_state: int,
    sample: dict[str, Any] | None,
) -> SegmentEffects:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = {f.name: f for f in df.schema.fields}
    seg_alias = {s: f"s{i}" for i, s in enumerate(segments)}
    keep = [(s, a) for s, a in seg_alias.items()] + ([(cluster, "g")] if cluster else [])
    inputs = list(dict.fromkeys([*scorer.columns, *segments, *([cluster] if cluster else [])]))
    internal = {c: f"c{i}" for i, c in enumerate(inputs)}
    out_schema = T.StructType(
        [T.StructField(a, fields[s].dataType, True) for s, a in keep]
        + [T.StructField("psi", T.DoubleType(), False), T.StructField("fit", T.IntegerType())]
    )
    bc = engine.spark.sparkContext.broadcast(scorer)
    back = {v: k for k, v in internal.items()}

    def run(batches: Any) -> Any:
        sc = bc.value
        for pdf in batches:
            frame = pdf.rename(columns=back)
            psi, folds = sc.scores(frame)
            out = pd.DataFrame({a: frame[s].to_numpy() for s, a in keep})
            out["psi"] = psi
            out["fit"] = (folds >= 0).astype("int32")
            yield out

    scored = df.select(*[_col(c).alias(internal[c]) for c in inputs]).mapInPandas(run, out_schema)
    segs = list(seg_alias.values())
    if cluster is None:
        sets = [[], *[[a] for a in segs], *[list(p) for p in itertools.combinations(segs, 2)]]
        aggs = [F.count(F.lit(1)).alias("n"), F.avg("psi").alias("m"),
                F.var_samp("psi").alias("v"), F.sum("fit").alias("fit")]  # fmt: skip
    else:
        sets = [["g"], *[["g", a] for a in segs]]
        aggs = [F.count(F.lit(1)).alias("n"), F.sum("psi").alias("m"),
                F.sum("fit").alias("fit")]  # fmt: skip
    flags = [F.grouping(a).alias(f"gr_{a}") for a in segs]
    group_cols = segs + (["g"] if cluster else [])
    if group_cols:
        grouped = scored.groupingSets([[F.col(c) for c in s] for s in sets], *group_cols)
        rows = grouped.agg(*flags, *aggs).toPandas()
    else:
        rows = scored.agg(*aggs).toPandas()
    for a in segs:
        if f"gr_{a}" not in rows:
            rows[f"gr_{a}"] = 1
    return _assemble(rows, scorer, segments, seg_alias, cluster, alpha, random_state, sample)


def _assemble(
    rows: pd.DataFrame,
    scorer: DRScorer,
    segments: list[str],
    seg_alias: dict[str, str],
    cluster: str | None,
    alpha: float,
    random_state: int,
    sample: dict[str, Any] | None,
) -> SegmentEffects:
    """The driver's part: sufficient statistics -> GATE table, ATE, band (as gate_table)."""

    from estimators import ATEResult, EstimatorInputError
    from estimators.inference import band_limits

    segs = list(seg_alias.values())
    active = {a: rows[f"gr_{a}"].to_numpy() == 0 for a in segs}

    def only(*names: str) -> pd.DataFrame:
        """Rows of the grouping set that groups by exactly ``names`` (besides the cluster)."""
        m = np.ones(len(rows), dtype=bool)
        for a in segs:
            m &= active[a] == (a in names)
        return rows[m]

    arm_label = f"{scorer.levels[scorer.arm]} vs {scorer.levels[0]}"
    overall = only()
    n = int(overall["n"].sum())
    n_fit = int(overall["fit"].sum())
    if cluster is None:
        r0 = overall.iloc[0]
        theta = float(r0["m"])
        se, lo, hi, p = _finish_unit(theta, float(r0["v"]) / n, alpha)
        ate = ATEResult(theta, se, lo, hi, p, alpha, n, None, scorer.outcome, arm_label, None)
        n_clusters = None
    else:
        gsum = overall.groupby("g", sort=True)[["n", "m"]].sum()
        sums, counts = gsum["m"].to_numpy(float), gsum["n"].to_numpy(float)
        theta = float(sums.sum() / counts.sum())
        se, lo, hi, p, dof, n_clusters = _finish_cluster(theta, sums, counts, alpha)
        ate = ATEResult(theta, se, lo, hi, p, alpha, n, n_clusters, scorer.outcome, arm_label,
                        dof)  # fmt: skip
        cluster_index = pd.Index(gsum.index)

    # ---- one row per segment value, in gate_table's order
    table_rows: list[dict[str, Any]] = []
    dofs: list[float | None] = []
    keys: list[tuple[str, Any]] = []
    per_cluster: list[tuple[np.ndarray, np.ndarray]] = []
    for col, a in seg_alias.items():
        part = only(a)
        if cluster is None:
            by = {_py(v): r for v, r in zip(part[a], part.itertuples(), strict=True)}
        else:
            by = {_py(v): g for v, g in part.groupby(a, sort=False)}
        for v in _sort_values(list(by)):
            rec = by[v]
            keys.append((a, v))
            if cluster is None:
                nv, th = int(rec.n), float(rec.m)
                row = dict.fromkeys(("se", "effect_ci_lower", "effect_ci_upper", "pvalue"), np.nan)
                if nv >= 2:
                    se_v, lo_v, hi_v, p_v = _finish_unit(th, float(rec.v) / nv, alpha)
                    row = {"se": se_v, "effect_ci_lower": lo_v, "effect_ci_upper": hi_v,
                           "pvalue": p_v}  # fmt: skip
                dofs.append(None)
            else:
                g = rec.groupby("g", sort=True)[["n", "m"]].sum()
                sums_v, counts_v = g["m"].to_numpy(float), g["n"].to_numpy(float)
                nv = int(counts_v.sum())
                th = float(sums_v.sum() / nv)
                codes = cluster_index.get_indexer(g.index)
                per_cluster.append((codes, sums_v - counts_v * th))
                row = dict.fromkeys(("se", "effect_ci_lower", "effect_ci_upper", "pvalue"), np.nan)
                dof_v = None
                if nv >= 2:
                    try:
                        se_v, lo_v, hi_v, p_v, dof_v, _ = _finish_cluster(th, sums_v, counts_v,
                                                                         alpha)  # fmt: skip
                        row = {"se": se_v, "effect_ci_lower": lo_v, "effect_ci_upper": hi_v,
                               "pvalue": p_v}  # fmt: skip
                    except EstimatorInputError:  # fewer than two clusters in the segment
                        pass
                dofs.append(dof_v)
            effect = th if nv >= 2 else np.nan  # as estimators' _safe_mean
            table_rows.append({"segment": f"{col}={v}", "column": col, "value": v, "n": nv,
                               "effect": effect, **{k: row[k] for k in TABLE_COLUMNS[5:9]}})  # fmt: skip
    table = pd.DataFrame(table_rows, columns=TABLE_COLUMNS[:9])

    # ---- the band: covariance of the segment estimates (as gate_table)
    se_all = table["se"].to_numpy(dtype=float)
    idx = np.flatnonzero(np.isfinite(se_all) & (se_all > 0))
    thetas = table["effect"].to_numpy(dtype=float)
    ns = table["n"].to_numpy(dtype=float)
    cov = np.zeros((idx.size, idx.size))
    if idx.size and cluster is not None:
        agg = np.zeros((len(cluster_index), idx.size))
        for c, i in enumerate(idx):
            codes, infl = per_cluster[i]
            agg[codes, c] = infl / ns[i]
        cov = agg.T @ agg
    elif idx.size:
        pair_stats: dict[tuple[tuple[str, Any], tuple[str, Any]], tuple[float, float, float]] = {}
        for a, b in itertools.combinations(segs, 2):
            for r in only(a, b).itertuples():
                m2 = 0.0 if pd.isna(r.v) else float(r.v) * (int(r.n) - 1)
                ka, kb = (a, _py(getattr(r, a))), (b, _py(getattr(r, b)))
                pair_stats[(ka, kb)] = pair_stats[(kb, ka)] = (float(r.n), float(r.m), m2)
        for c, i in enumerate(idx):
            cov[c, c] = se_all[i] ** 2 * (ns[i] - 1) / ns[i]  # sum (s - theta)^2 / n^2
            for d in range(c):
                k = idx[d]
                cell = pair_stats.get((keys[i], keys[k]))
                if cell is None:  # same column (disjoint) or no common rows
                    continue
                m, mean, m2 = cell
                cov[c, d] = cov[d, c] = (m2 + m * (mean - thetas[i]) * (mean - thetas[k])) / (
                    ns[i] * ns[k]
                )
    lower, upper, crit = band_limits(
        cov, thetas, se_all, dofs, idx, len(table), alpha, np.random.default_rng(random_state)
    )
    table["band_lower"] = lower
    table["band_upper"] = upper
    return SegmentEffects(
        table=table,
        ate=ate,
        band_critical_value=crit,
        alpha=alpha,
        outcome=scorer.outcome,
        treatment=arm_label,
        n=n,
        n_clusters=n_clusters,
        n_fit_rows=n_fit,
        sample=sample,
    )
