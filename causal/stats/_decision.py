"""Guardrails (non-inferiority) and the ship / no-ship decision rule."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from scipy import stats as sps

from causal._errors import ConfigError
from causal.stats._results import Decision, EffectResult, GuardrailResult, SRMResult

__all__ = ["decide", "noninferiority"]

Direction = Literal["increase", "decrease"]


def _check_direction(direction: str, param: str = "direction") -> None:
    if direction not in ("increase", "decrease"):
        raise ConfigError(
            f"The '{param}' parameter must be 'increase' (higher is better) or 'decrease' "
            f"(lower is better). Got {direction!r} instead."
        )


def noninferiority(
    result: EffectResult,
    *,
    margin: float,
    relative: bool = True,
    direction: Direction = "increase",
    alpha: float | None = None,
    metric: str = "",
) -> GuardrailResult:
    """One-sided non-inferiority test of a guardrail metric against a margin.

    The guardrail holds when the one-sided ``1 - alpha`` confidence bound on the harmful side
    is better than the margin: for ``direction="increase"`` (higher is better) the lower bound
    must exceed ``-margin``; for ``"decrease"`` (e.g. hides) the upper bound must stay below
    ``+margin``. The bound uses the result's own reference distribution (t with ``result.df``
    or normal).

    Parameters
    ----------
    result : EffectResult
        The guardrail metric's effect (from :func:`mean_effect` or :func:`ratio_effect`).
    margin : float
        Largest tolerated harm, > 0; a fraction of the control mean when ``relative``
        (0.02 = 2 %), otherwise in the metric's units.
    relative : bool
        Test the relative lift (``rel_effect``, ``rel_se``) instead of the absolute effect.
    direction : {"increase", "decrease"}
        Which direction is good.
    alpha : float, optional
        One-sided level; default ``result.alpha / 2`` so the bound is the bound of the reported
        two-sided interval.
    metric : str
        Name carried into the result.

    Returns
    -------
    GuardrailResult
        ``non_inferior`` False (and NaN p-value) when the estimate is undefined, e.g. a relative
        margin with a zero control mean.

    Examples
    --------
    >>> from causal.stats import EffectResult, noninferiority
    >>> r = EffectResult(10, 9.9, -0.1, -0.3, 0.1, -0.01, -0.03, 0.01, 0.102, 0.33, 0.0,
    ...                  1000, 1000, rel_se=0.0102)
    >>> noninferiority(r, margin=0.05, metric="time_spent").non_inferior
    True
    """
    _check_direction(direction)
    if not (isinstance(margin, int | float) and margin > 0 and math.isfinite(margin)):
        raise ConfigError(
            f"The guardrail 'margin' of metric '{metric}' must be a positive number "
            f"(a fraction when relative). Got {margin!r} instead."
        )
    a = result.alpha / 2 if alpha is None else alpha
    if not 0 < a < 1:
        raise ConfigError(
            f"The 'alpha' parameter must be a float in (0, 1). Got {alpha!r} instead."
        )
    est = result.rel_effect if relative else result.effect
    se = result.rel_se if relative else result.se
    df = result.df
    dist = sps.norm if math.isinf(df) else sps.t(df)
    if not (math.isfinite(est) and math.isfinite(se)):
        return GuardrailResult(
            metric, float(margin), relative, direction, float(est), math.nan, math.nan, False, a
        )
    q = float(dist.ppf(1 - a))
    if direction == "increase":
        bound = est - q * se
        stat = (est + margin) / se if se > 0 else math.copysign(math.inf, est + margin)
        ok = bound > -margin
    else:
        bound = est + q * se
        stat = (margin - est) / se if se > 0 else math.copysign(math.inf, margin - est)
        ok = bound < margin
    pvalue = float(dist.sf(stat))
    return GuardrailResult(
        metric=metric,
        margin=float(margin),
        relative=relative,
        direction=direction,
        estimate=float(est),
        bound=float(bound),
        pvalue=pvalue,
        non_inferior=bool(ok),
        alpha=float(a),
    )


def decide(
    success: Mapping[str, EffectResult],
    guardrails: Sequence[GuardrailResult] = (),
    *,
    srm: SRMResult | None = None,
    pvalues_adjusted: Mapping[str, float] | None = None,
    directions: Mapping[str, Direction] | None = None,
    alpha: float = 0.05,
    significant: Mapping[str, bool] | None = None,
) -> Decision:
    """Ship only if a success metric wins and every guardrail is non-inferior.

    Rules, in order: an SRM failure makes the experiment ``"untrustworthy"`` (do not decide);
    a success metric significantly worse, or a guardrail not shown non-inferior (including one
    that could not be estimated), gives ``"no_ship"``; a success metric that could not be
    estimated (NaN p-value) makes the decision ``"untrustworthy"`` (incomplete: the missing
    metric might have lost); at least one success metric significantly better gives
    ``"ship"``; otherwise ``"no_ship"`` (no evidence of a win). "Significantly" uses the
    adjusted p-values when given (multiple testing across metrics × arms, over the family the
    config fixes), else the raw ones.

    Parameters
    ----------
    success : mapping of metric name to EffectResult
        Success metrics of one treatment arm.
    guardrails : sequence of GuardrailResult
        From :func:`noninferiority`.
    srm : SRMResult, optional
        The sample-ratio check.
    pvalues_adjusted : mapping of metric name to float, optional
        Adjusted p-values of the success metrics.
    directions : mapping of metric name to {"increase", "decrease"}, optional
        Good direction per success metric (default "increase").
    alpha : float
        Significance level for a win.
    significant : mapping of metric name to bool, optional
        Whether each success metric's test rejects "no effect", decided elsewhere (e.g. by a
        sequential test at this look); replaces the p-value comparison when given.

    Returns
    -------
    Decision

    Examples
    --------
    >>> from causal.stats import EffectResult, decide
    >>> win = EffectResult(1.0, 1.1, 0.1, 0.05, 0.15, 0.1, 0.05, 0.15, 0.025, 1e-4, 0.0, 500, 500)
    >>> decide({"saves": win}).decision
    'ship'
    """
    if not 0 < alpha < 1:
        raise ConfigError(
            f"The 'alpha' parameter must be a float in (0, 1). Got {alpha!r} instead."
        )
    directions = dict(directions or {})
    for name, d in directions.items():
        _check_direction(d, f"directions[{name!r}]")
    if srm is not None and not srm.ok:
        return Decision(
            decision="untrustworthy",
            reason=(
                f"Sample-ratio mismatch (p = {srm.pvalue:.2g} < {srm.alpha:g}): the assignment "
                "is broken, so the effects cannot be trusted; do not decide, investigate."
            ),
        )
    winners: list[str] = []
    losers: list[str] = []
    missing: list[str] = []
    for name, res in success.items():
        if not (math.isfinite(res.pvalue) and math.isfinite(res.effect)):
            missing.append(name)
            continue
        if significant is not None:
            if not significant.get(name, False):
                continue
        else:
            p = res.pvalue if pvalues_adjusted is None else pvalues_adjusted.get(name, res.pvalue)
            if not (math.isfinite(p) and p < alpha):
                continue
        good = res.effect > 0 if directions.get(name, "increase") == "increase" else res.effect < 0
        (winners if good else losers).append(name)
    failed = [g.metric for g in guardrails if not g.non_inferior]
    if losers:
        reason = f"Success metric(s) {', '.join(losers)} got significantly worse."
        decision = "no_ship"
    elif failed:
        reason = f"Guardrail(s) {', '.join(failed)} not shown non-inferior within their margin."
        decision = "no_ship"
    elif missing:
        reason = (
            f"Incomplete: success metric(s) {', '.join(missing)} could not be estimated, so "
            "the readout cannot support a decision; fix the data or the metric and rerun."
        )
        decision = "untrustworthy"
    elif winners:
        reason = f"{', '.join(winners)} improved significantly and every guardrail held."
        decision = "ship"
    else:
        reason = "No success metric improved significantly."
        decision = "no_ship"
    return Decision(decision, reason, tuple(winners), tuple(losers), tuple(failed), tuple(missing))
