"""Exact path-dependent TreeSHAP for shallow LightGBM ensembles, by per-tree lookup tables.

Why our own: LightGBM's ``predict(pred_contrib=True)`` runs the TreeSHAP recursion for every
row, at a cost that grows with trees x leaves x depth^2 per row (issue 14 measured 6-66 s for
100k rows). For a tree of depth <= 3 (at most 7 internal nodes), a row's SHAP values depend on
the row *only through the outcomes of the 7 split tests*. So we precompute, once per tree, the
exact Shapley values of the path-dependent value function for each of the <= 2^7 outcome
patterns (enumerating the <= 2^7 subsets of the features that tree uses), and explaining a row
becomes 7 comparisons and a table lookup per tree — vectorised numpy over rows. The numbers are
the same as LightGBM's ``pred_contrib`` and shap's ``TreeExplainer`` (path-dependent) to float
precision; ``tests/explain/test_treeshap.py`` checks both. The measured gain is in
``bench/RESULTS_explain.md``.

The value function is Lundberg et al. (2020), Algorithm 1 (``EXPVALUE``): a feature in the
coalition follows the row's branch, any other feature averages both children weighted by the
training cover of the node (``internal_count``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np

__all__ = ["MAX_TABLE_DEPTH", "TreeTables", "build_tables", "shap_values"]

#: Deepest tree handled by lookup tables (2^7 patterns x 2^7 coalitions per tree).
MAX_TABLE_DEPTH = 3


@dataclass(frozen=True)
class _Tree:
    """One tree's internal nodes in pre-order, with the lookup table of its SHAP values."""

    feature: np.ndarray  # (m,) split feature of each internal node
    threshold: np.ndarray  # (m,) numeric threshold (nan for categorical splits)
    categories: tuple[np.ndarray | None, ...]  # per node: category codes going left
    default_left: np.ndarray  # (m,) bool: where a missing value goes
    missing_nan: np.ndarray  # (m,) bool: missing_type == "NaN"
    used: np.ndarray  # (k,) distinct features used by the tree
    table: np.ndarray  # (2^m, k) SHAP value of each used feature per split-outcome pattern
    expected: float  # cover-weighted mean of the tree (its share of the base value)


@dataclass(frozen=True)
class TreeTables:
    """Lookup tables of every tree of a LightGBM booster, packed for vectorised lookup.

    ``T`` trees padded to ``m`` internal nodes and ``k`` used features each: node ``i`` of
    tree ``t`` tests ``x[feature[t, i]] <= threshold[t, i]`` (padding: threshold -inf, never
    left); ``values[t, pattern, s]`` is the SHAP value of feature ``used[t, s]``.
    """

    trees: tuple[_Tree, ...]
    n_features: int
    base_value: float
    feature: np.ndarray  # (T, m)
    threshold: np.ndarray  # (T, m)
    values: np.ndarray  # (T * 2^m * k,) flat
    n_patterns: int  # 2^m
    k: int
    per_feature: tuple[tuple[np.ndarray, np.ndarray], ...]  # feature j -> (trees, slots)
    special: tuple[tuple[int, int], ...]  # (tree, node) with categorical or NaN-aware tests


def _shapley_matrix(k: int) -> np.ndarray:
    """(2^k, k) matrix M with phi = v @ M for a value function v over subsets (bitmask rows)."""
    m = np.zeros((1 << k, k))
    w = [factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)]
    for mask in range(1 << k):
        size = bin(mask).count("1")
        for j in range(k):
            if mask >> j & 1:
                m[mask, j] += w[size - 1]  # v(S + j) with |S| = size - 1
            else:
                m[mask, j] -= w[size]  # v(S) with j not in S
    return m


def _tree_table(node: dict[str, Any]) -> _Tree:
    # Flatten internal nodes in pre-order; children as ("node", idx) or ("leaf", value, count).
    feats: list[int] = []
    thr: list[float] = []
    cats: list[np.ndarray | None] = []
    dleft: list[bool] = []
    mnan: list[bool] = []

    def flatten(nd: dict[str, Any]) -> Any:
        if "leaf_value" in nd:
            return ("leaf", float(nd["leaf_value"]), float(nd.get("leaf_count", 1)))
        i = len(feats)
        feats.append(int(nd["split_feature"]))
        if nd["decision_type"] == "==":
            thr.append(np.nan)
            cats.append(np.array([int(c) for c in str(nd["threshold"]).split("||")]))
        else:
            thr.append(float(nd["threshold"]))
            cats.append(None)
        dleft.append(bool(nd.get("default_left", True)))
        mnan.append(nd.get("missing_type") == "NaN")
        left = flatten(nd["left_child"])
        right = flatten(nd["right_child"])
        return ("node", i, left, right, float(nd["internal_count"]))

    root = flatten(node)
    m = len(feats)
    used = np.unique(np.array(feats, dtype=int)) if m else np.zeros(0, dtype=int)
    k = used.size
    pos = {int(f): j for j, f in enumerate(used)}
    patterns = np.arange(1 << m)[:, None]  # bit i set: internal node i sends the row left
    coalitions = np.arange(1 << k)[None, :]

    def value(sub: Any) -> np.ndarray:
        if sub[0] == "leaf":
            return np.full((1, 1), sub[1])
        _, i, left, right, _cnt = sub
        vl, vr = value(left), value(right)
        cl, cr = _count(left), _count(right)
        goes_left = (patterns >> i & 1).astype(bool)
        in_s = (coalitions >> pos[feats[i]] & 1).astype(bool)
        follow = np.where(goes_left, vl, vr)
        average = (cl * vl + cr * vr) / (cl + cr)
        return np.where(in_s, follow, average)

    if m == 0:
        leaf_value = root[1]
        return _Tree(
            feature=np.zeros(0, dtype=int), threshold=np.zeros(0), categories=(),
            default_left=np.zeros(0, dtype=bool), missing_nan=np.zeros(0, dtype=bool),
            used=used, table=np.zeros((1, 0)), expected=leaf_value,
        )  # fmt: skip
    v = np.broadcast_to(value(root), (1 << m, 1 << k))
    table = v @ _shapley_matrix(k)
    return _Tree(
        feature=np.array(feats, dtype=int),
        threshold=np.array(thr),
        categories=tuple(cats),
        default_left=np.array(dleft),
        missing_nan=np.array(mnan),
        used=used,
        table=np.ascontiguousarray(table),
        expected=float(v[0, 0]),
    )


def _count(sub: Any) -> float:
    return sub[2] if sub[0] == "leaf" else sub[4]


def _depth(node: dict[str, Any]) -> int:
    if "leaf_value" in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def build_tables(booster: Any, num_iteration: int | None = None) -> TreeTables:
    """Precompute the SHAP lookup tables of a LightGBM booster whose trees have depth <= 3.

    Parameters
    ----------
    booster : lightgbm.Booster
        A single-output regression booster.
    num_iteration : int, optional
        Use only the first ``num_iteration`` trees (default: all).

    Returns
    -------
    TreeTables

    Raises
    ------
    ValueError
        If a tree is deeper than :data:`MAX_TABLE_DEPTH` (use ``pred_contrib`` instead).
    """
    dump = booster.dump_model(num_iteration=num_iteration)
    trees = []
    for info in dump["tree_info"]:
        root = info["tree_structure"]
        if _depth(root) > MAX_TABLE_DEPTH:
            raise ValueError(
                f"tree {info['tree_index']} has depth {_depth(root)} > {MAX_TABLE_DEPTH}; "
                "lookup tables need shallow trees."
            )
        trees.append(_tree_table(root))
    return _pack(trees, int(dump["max_feature_idx"]) + 1)


def _pack(trees: list[_Tree], p: int) -> TreeTables:
    n_trees = len(trees)
    m = max([t.feature.size for t in trees] + [1])
    k = max([t.used.size for t in trees] + [1])
    feature = np.zeros((n_trees, m), dtype=np.intp)
    threshold = np.full((n_trees, m), -np.inf)
    values = np.zeros((n_trees, 1 << m, k))
    slots: list[list[tuple[int, int]]] = [[] for _ in range(p)]
    special = []
    for ti, t in enumerate(trees):
        mi = t.feature.size
        feature[ti, :mi] = t.feature
        threshold[ti, :mi] = t.threshold
        for i in range(mi):
            if t.categories[i] is not None or t.missing_nan[i]:
                special.append((ti, i))
        # patterns only use the tree's own mi bits; padded bits are always 0
        values[ti, : 1 << mi, : t.used.size] = t.table
        for s_, f in enumerate(t.used):
            slots[int(f)].append((ti, s_))
    per_feature = tuple(
        (np.array([a for a, _ in sl], dtype=np.intp), np.array([b for _, b in sl], dtype=np.intp))
        for sl in slots
    )
    return TreeTables(
        trees=tuple(trees),
        n_features=p,
        base_value=float(sum(t.expected for t in trees)),
        feature=feature,
        threshold=threshold,
        values=values.ravel(),
        n_patterns=1 << m,
        k=k,
        per_feature=per_feature,
        special=tuple(special),
    )


def _goes_left(t: _Tree, i: int, col: np.ndarray) -> np.ndarray:
    cats = t.categories[i]
    if cats is not None:
        # LightGBM: a category in the split's set goes left; missing / negative / unseen go right
        return np.isin(col, cats)
    if t.missing_nan[i]:
        return np.where(np.isnan(col), t.default_left[i], col <= t.threshold[i])
    # missing_type None: LightGBM reads NaN as 0
    return np.where(np.isnan(col), 0.0, col) <= t.threshold[i]


def shap_values(tables: TreeTables, X: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
    """Exact path-dependent SHAP values of the booster behind ``tables`` at the rows of ``X``.

    Parameters
    ----------
    tables : TreeTables
        From :func:`build_tables`.
    X : ndarray of shape (n, p)
        The numeric matrix the booster was trained on (categorical columns as integer codes).
    chunk : int
        Rows per block (memory ~ chunk x trees x depth bytes).

    Returns
    -------
    ndarray of shape (n, p)
        ``values.sum(axis=1) + tables.base_value`` equals the booster's prediction.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    out = np.zeros((n, tables.n_features))
    if not tables.trees:
        return out
    raw = X
    if np.isnan(X).any():
        X = np.where(np.isnan(X), 0.0, X)  # LightGBM's missing_type None reads NaN as 0
    n_trees, m = tables.feature.shape
    # nodes grouped by feature: one broadcast comparison per feature, no gathered copy of X
    flat_feature = tables.feature.ravel()
    flat_threshold = tables.threshold.ravel()
    real = np.isfinite(flat_threshold) | (flat_threshold == np.inf)
    node_sets = [(j, np.flatnonzero(real & (flat_feature == j))) for j in range(tables.n_features)]
    by_feature = [(j, idx, flat_threshold[idx][:, None]) for j, idx in node_sets if idx.size]
    tree_base = (np.arange(n_trees, dtype=np.intp) * tables.n_patterns)[:, None]
    for start in range(0, n, chunk):
        xt = np.ascontiguousarray(X[start : start + chunk].T)  # (p, c)
        c = xt.shape[1]
        bits = np.zeros((n_trees * m, c), dtype=bool)
        for j, idx, thr in by_feature:
            bits[idx] = xt[j][None, :] <= thr
        for ti, i in tables.special:
            col = raw[start : start + chunk, tables.feature[ti, i]]
            bits[ti * m + i] = _goes_left(tables.trees[ti], i, col)
        code = np.packbits(bits.reshape(n_trees, m, c), axis=1, bitorder="little")[:, 0, :]
        flat = (tree_base + code) * tables.k  # (T, c)
        acc = out[start : start + chunk]
        for j, (tj, sj) in enumerate(tables.per_feature):
            if tj.size:
                acc[:, j] = np.take(tables.values, flat[tj] + sj[:, None]).sum(axis=0)
    return out
