"""A small simulator with known effects for the estimator tests (independent of causal.data)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate(
    n: int,
    seed: int,
    *,
    confounded: bool = True,
    n_clusters: int | None = None,
    cluster_sd: float = 0.0,
    arms: int = 2,
) -> dict[str, object]:
    """Confounded binary (or multi-arm) treatment with a heterogeneous effect.

    X: ``x0``, ``x1`` (normal) and ``topic`` (string, 4 levels); W: ``w0``.
    ``tau(x) = 1 + x1 + 0.5 [topic == 'b']`` for arm 1 (arm 2: ``0.5 * tau``); propensity
    ``sigmoid(0.8 x0 + 0.5 w0)`` when confounded. Returns a dict with X, W, T, Y, tau
    (true CATE of arm 1 per row), groups.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "topic": rng.choice(["a", "b", "c", "d"], size=n),
        }
    )
    W = pd.DataFrame({"w0": rng.normal(size=n)})
    groups = None
    u = np.zeros(n)
    if n_clusters is not None:
        groups = rng.integers(0, n_clusters, size=n)
        u = rng.normal(scale=cluster_sd, size=n_clusters)[groups]
    lin = 0.8 * X["x0"].to_numpy() + 0.5 * W["w0"].to_numpy() if confounded else np.zeros(n)
    tau = 1.0 + X["x1"].to_numpy() + 0.5 * (X["topic"].to_numpy() == "b")
    if arms == 2:
        T = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
        effect = T * tau
    else:
        p1 = 1 / (1 + np.exp(-lin))
        T = np.where(rng.random(n) < p1, rng.integers(1, arms, size=n), 0)
        effect = np.where(T == 1, tau, np.where(T == 2, 0.5 * tau, 0.0))
    y0 = X["x0"].to_numpy() + 0.5 * W["w0"].to_numpy() + np.sin(X["x1"].to_numpy()) + u
    Y = y0 + effect + rng.normal(size=n) + (u * T if n_clusters is not None else 0.0)
    return {"X": X, "W": W, "T": T, "Y": Y, "tau": tau, "groups": groups}
