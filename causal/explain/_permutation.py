"""Permutation SHAP of a model itself, with every coalition of every row in a few batched calls.

The same estimator as shap's ``PermutationExplainer`` with an ``Independent`` masker (antithetic
permutations: each random order of the modifiers is walked forward, switching them on one by
one, and back, switching them off in the same order; a modifier's value is the mean change of
the background-averaged prediction when it is switched), reproduced step for step:

- the orders come from ``numpy.random.RandomState(seed)`` shuffling, row after row, the
  modifiers whose value differs (``numpy.isclose``) from some background row, as shap's
  ``np.random.seed(seed)`` + ``np.random.shuffle`` does; the number of permutations per row is
  ``max_evals // (2 k + 1)`` for its ``k`` varying modifiers;
- a background row is re-evaluated at a step only when the switched modifier differs there;
  otherwise its previous output is carried forward (shap's "varying rows").

What differs is how the model is called. shap calls it once per permutation per row (about
``max_evals / (2 p + 1)`` calls per row, each on at most ``2 p x background`` rows); a blend
with forests costs about a second a call whatever its size, so 200 rows took minutes. Here all
masked rows of all explained rows are stacked first and the model is called on blocks of
``BATCH_ROWS`` rows, then the outputs are reduced exactly as shap does. The values equal shap's
to rounding for any model whose ``effect`` scores each row on its own
(``tests/explain/test_permutation.py``); each row's values plus the base value add up to the
model's prediction for that row (the antithetic walk telescopes). Measured in
``bench/bench_explain.py --permutation`` (``bench/RESULTS_explain.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BATCH_ROWS", "default_max_evals", "permutation_shap"]

#: Masked rows per model call (bounds memory: the stacked matrix is BATCH_ROWS x p floats plus
#: the model's own working set; 200k x 10 modifiers is 16 MB).
BATCH_ROWS = 200_000


def default_max_evals(p: int) -> int:
    """Model evaluations per explained row (shap's ``max_evals``): ``max(2 p + 1, 10 p)``."""
    return max(2 * p + 1, 10 * p)


@dataclass
class _RowPlan:
    perms: np.ndarray  # (n_perm, k) modifier indices, the orders walked
    evaluate: np.ndarray  # (n_perm, 2k, n_bg) bool: background row re-evaluated at that step
    start: int  # offset of this row's masked rows in the stacked matrix


def _plan(
    X: np.ndarray, background: np.ndarray, max_evals: int, seed: int
) -> tuple[list[_RowPlan | None], list[np.ndarray]]:
    rs = np.random.RandomState(seed)  # shap: np.random.seed(seed), then np.random.shuffle
    plans: list[_RowPlan | None] = []
    blocks: list[np.ndarray] = []
    offset = 0
    p = X.shape[1]
    for x in X:
        variants = ~np.isclose(x, background)  # shap's Tabular.invariants, negated
        inds = np.nonzero(variants.any(axis=0))[0]
        k = inds.size
        if k == 0:
            plans.append(None)
            continue
        n_perm = max_evals // (2 * k + 1)
        perms = np.empty((n_perm, k), dtype=np.intp)
        for q in range(n_perm):
            rs.shuffle(inds)  # in place, each order starting from the previous one (as shap)
            perms[q] = inds
        # coalition after each of the 2k steps: forward switches perms[:, :s] on, backward
        # switches perms[:, :j] off again; the step's switched modifier is perms[:, (s-1) % k]
        rank = np.zeros((n_perm, p), dtype=np.intp)
        rank[np.arange(n_perm)[:, None], perms] = np.arange(k)
        steps = np.arange(1, 2 * k + 1)
        on = np.zeros((n_perm, 2 * k, p), dtype=bool)
        pos = rank[:, None, inds]  # (n_perm, 1, k): position of each varying modifier in the order
        fwd = steps[None, :, None] <= k
        on[:, :, inds] = np.where(fwd, pos < steps[None, :, None], pos >= steps[None, :, None] - k)
        switched = perms[:, (steps - 1) % k]  # (n_perm, 2k)
        evaluate = variants.T[switched]  # (n_perm, 2k, n_bg)
        q_i, s_i, j_i = np.nonzero(evaluate)
        blocks.append(np.where(on[q_i, s_i], x[None, :], background[j_i]))
        plans.append(_RowPlan(perms, evaluate, offset))
        offset += q_i.size
    return plans, blocks


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    background: np.ndarray,
    *,
    max_evals: int | None = None,
    seed: int = 0,
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
) -> tuple[np.ndarray, float]:
    """Permutation SHAP values of ``f`` at the rows of ``X`` against ``background``.

    Parameters
    ----------
    f : callable
        Maps an (m, p) matrix to m predictions; each row must be scored on its own.
    X, background : ndarray of shape (n, p) and (b, p)
        Rows to explain; background rows standing for "modifier not known".
    max_evals : int, optional
        Evaluations per row, as shap's (default :func:`default_max_evals`).
    seed : int
        Seeds the permutations (shap's ``seed``: the same seed gives shap's values).
    batch_rows : int
        Masked rows per call of ``f``.
    progress : bool
        Show a progress bar over the calls.

    Returns
    -------
    values : ndarray of shape (n, p)
    base : float
        The mean prediction over the background; ``base + values.sum(1) == f(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, bg = rng.normal(size=(5, 3)), rng.normal(size=(20, 3))
    >>> f = lambda M: M[:, 0] * M[:, 1] + M[:, 2]
    >>> values, base = permutation_shap(f, X, bg)
    >>> bool(np.allclose(base + values.sum(1), f(X)))
    True
    """
    X = np.asarray(X, dtype=float)
    background = np.asarray(background, dtype=float)
    n, p = X.shape
    if max_evals is None:
        max_evals = default_max_evals(p)
    if max_evals < 2 * p + 1:
        raise ValueError(f"max_evals={max_evals} must be at least 2 * p + 1 = {2 * p + 1}.")
    plans, blocks = _plan(X, background, int(max_evals), int(seed))
    stacked = np.concatenate([background, *blocks]) if blocks else background
    outputs = np.empty(stacked.shape[0])
    starts = range(0, stacked.shape[0], max(1, int(batch_rows)))
    if progress and len(starts) > 1:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="permutation SHAP (model calls)")
    for a in starts:
        out = np.asarray(f(stacked[a : a + batch_rows]), dtype=float).reshape(-1)
        if out.shape[0] != min(batch_rows, stacked.shape[0] - a):
            raise ValueError(
                f"The model returned {out.shape[0]} predictions for "
                f"{min(batch_rows, stacked.shape[0] - a)} rows; it must return one per row."
            )
        outputs[a : a + batch_rows] = out
    b = background.shape[0]
    f_bg = outputs[:b]
    rest = outputs[b:]
    base = float(f_bg.mean())
    values = np.zeros((n, p))
    for r, plan in enumerate(plans):
        if plan is None:
            continue
        n_perm, k = plan.perms.shape
        ev = plan.evaluate
        evaluated = np.zeros(ev.shape)
        evaluated[ev] = rest[plan.start : plan.start + int(ev.sum())]
        current = np.broadcast_to(f_bg, (n_perm, b)).copy()
        means = np.empty((n_perm, 2 * k + 1))
        means[:, 0] = base
        for s in range(2 * k):  # carry unchanged background rows forward, as shap does
            current = np.where(ev[:, s], evaluated[:, s], current)
            means[:, s + 1] = current.mean(axis=1)
        rows = np.arange(n_perm)[:, None]
        contrib = np.zeros((n_perm, p))
        contrib[rows, plan.perms] += np.diff(means[:, : k + 1], axis=1)
        contrib[rows, plan.perms] -= np.diff(means[:, k:], axis=1)
        values[r] = contrib.sum(axis=0) / (2 * n_perm)
    return values, base
