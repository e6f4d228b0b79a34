"""Shared helpers for the estimator benchmarks: data loaders, metrics, baselines, timers.

Not part of the package and not part of the test suite. Every ``bench_*.py`` script imports
this module from its own directory (``bench/`` is ``sys.path[0]`` when a script runs).

Examples
--------
>>> rep = load_ihdp(1)                                   # doctest: +SKIP
>>> rep.x.shape, int(rep.test.sum())                     # doctest: +SKIP
((747, 25), 75)
>>> round(sqrt_pehe(np.array([1.0, 2.0]), np.array([1.0, 4.0])), 3)
1.414
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# the public data sit in shared/ beside the repository (as in CI); CAUSAL_IHDP_DIR overrides
IHDP_DIR = Path(
    os.environ.get(
        "CAUSAL_IHDP_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "ihdp"
    )
)
IHDP_REPS = 50
IHDP_COLUMNS = ["treatment", "y_factual", "y_cfactual", "mu0", "mu1"] + [
    f"x{i}" for i in range(1, 26)
]
# Shalit, Johansson & Sontag (ICML 2017), Table 1 — sqrt(PEHE) and |ATE error|, in/out of
# sample, averaged over 1000 replications (see /work/shared/data/ihdp/README.md).
IHDP_PUBLISHED = {
    "BART": {"pehe_in": 2.1, "pehe_out": 2.3, "ate_in": 0.23, "ate_out": 0.34},
    "Causal Forest": {"pehe_in": 3.8, "pehe_out": 3.8, "ate_in": 0.18, "ate_out": 0.40},
    "CFR-Wass": {"pehe_in": 0.71, "pehe_out": 0.76, "ate_in": 0.25, "ate_out": 0.27},
}


# --------------------------------------------------------------------------------------- data
@dataclass(frozen=True, slots=True)
class IHDPRep:
    """One IHDP replication (747 units) with its standard 75-unit test split.

    Attributes
    ----------
    x : DataFrame, shape (747, 25)
        Covariates ``x1..x25``.
    t, y, mu0, mu1 : ndarray, shape (747,)
        Treatment, factual outcome and the noiseless potential-outcome means.
    test : ndarray of bool, shape (747,)
        True for the 75 standard test units of the cfrnet ``1-100.test.npz`` split.
    """

    replication: int
    x: pd.DataFrame
    t: np.ndarray
    y: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    test: np.ndarray

    @property
    def tau(self) -> np.ndarray:
        """True individual effect ``mu1 - mu0``, shape (747,)."""
        return self.mu1 - self.mu0


def ihdp_available() -> bool:
    """Whether the IHDP files are present (``CAUSAL_IHDP_DIR`` overrides the location)."""
    return (IHDP_DIR / "csv" / "ihdp_npci_1.csv").is_file() and (
        IHDP_DIR / "test_split_rows.csv"
    ).is_file()


def load_ihdp(replication: int) -> IHDPRep:
    """Load IHDP replication ``replication`` (1..50) with its test-split mask.

    Examples
    --------
    >>> load_ihdp(1).tau.mean().round(3)                  # doctest: +SKIP
    4.016
    """
    if not 1 <= replication <= IHDP_REPS:
        raise ValueError(f"replication must be in 1..{IHDP_REPS}; got {replication}")
    df = pd.read_csv(IHDP_DIR / "csv" / f"ihdp_npci_{replication}.csv", header=None)
    df.columns = IHDP_COLUMNS
    split = pd.read_csv(IHDP_DIR / "test_split_rows.csv")
    rows = split.loc[split["replication"] == replication, "csv_row"].to_numpy()
    test = np.zeros(len(df), dtype=bool)
    test[rows] = True
    return IHDPRep(
        replication=replication,
        x=df[[f"x{i}" for i in range(1, 26)]].astype(float),
        t=df["treatment"].to_numpy(dtype=float),
        y=df["y_factual"].to_numpy(dtype=float),
        mu0=df["mu0"].to_numpy(dtype=float),
        mu1=df["mu1"].to_numpy(dtype=float),
        test=test,
    )


def simulate_speed_data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """A confounded binary-treatment dataset with ``p`` modifiers for timing runs.

    Returns ``(y, t, X)``; the effect is ``1 + x0 - 0.5 * x1**2`` and the propensity a logistic
    function of ``x0, x2``. Generated in float32 blocks so 1M x 20 costs ~80 MB.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p), dtype=np.float32)
    logit = 0.8 * x[:, 0] - 0.5 * x[:, 2]
    t = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    tau = 1.0 + x[:, 0] - 0.5 * x[:, 1] ** 2
    y = np.sin(x[:, 2]) + 0.5 * x[:, 3] + t * tau + rng.standard_normal(n)
    return y.astype(float), t, pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])


# ------------------------------------------------------------------------------------ metrics
def sqrt_pehe(tau_hat: np.ndarray, tau: np.ndarray) -> float:
    """Root of the precision in estimating heterogeneous effects, ``sqrt(mean((τ̂-τ)²))``."""
    tau_hat = np.asarray(tau_hat, dtype=float).ravel()
    tau = np.asarray(tau, dtype=float).ravel()
    return float(np.sqrt(np.mean((tau_hat - tau) ** 2)))


def ate_error(ate_hat: float, tau: np.ndarray) -> float:
    """Absolute error of an ATE estimate against the sample mean of the true effects."""
    return float(abs(float(ate_hat) - float(np.mean(tau))))


def mean_se(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean and its standard error across replications."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def fmt_mean_se(values: list[float] | np.ndarray, digits: int = 2) -> str:
    """``"m ± se"`` for a markdown table."""
    m, s = mean_se(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


# ---------------------------------------------------------------------------------- baselines
def lgbm_regressor(n: int, random_state: int, n_jobs: int = 1, n_estimators: int = 100) -> Any:
    """LightGBM regressor with the settings used for every baseline nuisance model."""
    from lightgbm import LGBMRegressor

    return LGBMRegressor(
        n_estimators=n_estimators,
        learning_rate=0.1,
        num_leaves=31,
        min_child_samples=max(20, n // 500),
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )


def lgbm_classifier(n: int, random_state: int, n_jobs: int = 1, n_estimators: int = 100) -> Any:
    """LightGBM classifier with the settings used for every baseline propensity model."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=0.1,
        num_leaves=31,
        min_child_samples=max(20, n // 500),
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )


def econml_cf_baseline(n: int, random_state: int = 0, n_jobs: int = 1, n_trees: int = 500) -> Any:
    """econml ``CausalForestDML`` with LightGBM nuisances (the baseline of issue 3).

    Discrete treatment, cv=2 cross-fitting, ``n_trees`` honest trees (econml's default
    ``n_estimators`` is 100; 500 is closer to grf practice), everything else econml default.
    """
    from econml.dml import CausalForestDML

    return CausalForestDML(
        model_y=lgbm_regressor(n, random_state, n_jobs),
        model_t=lgbm_classifier(n, random_state, n_jobs),
        discrete_treatment=True,
        cv=2,
        n_estimators=n_trees,
        random_state=random_state,
        n_jobs=n_jobs,
    )


# ------------------------------------------------------------------------------- our estimators
def our_estimators() -> dict[str, Callable[..., Any]]:
    """Map name -> estimator class for every public estimator of the ``estimators`` package.

    Returns an empty dict while the package has none yet, so the harness still runs.
    """
    try:
        import estimators
    except ImportError:  # pragma: no cover - the package is part of this repo
        return {}
    wanted = ["AutoCate", "CausalForest", "LinearDML", "DRLearner", "XLearner", "TLearner"]
    wanted += ["SLearner"]
    return {name: getattr(estimators, name) for name in wanted if hasattr(estimators, name)}


def make_ours(name: str, random_state: int = 0, n_jobs: int = 1, **kwargs: Any) -> Any:
    """Construct our estimator ``name`` with a seed and thread count."""
    cls = our_estimators()[name]
    return cls(random_state=random_state, n_jobs=n_jobs, **kwargs)


# ----------------------------------------------------------------------- timing and memory
class PeakRSS:
    """Context manager sampling this process's resident set size every ``interval`` seconds.

    ``peak`` (bytes) is the largest sample; ``resource.getrusage`` gives the lifetime maximum,
    which is only meaningful in a fresh process (see :func:`run_worker`).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def lifetime_peak_rss() -> int:
    """Lifetime peak RSS of this process in bytes (``ru_maxrss`` is KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run_worker(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python <args>`` in a fresh process that prints one JSON line; enforce a time cap.

    Returns the parsed JSON, or ``{"timeout": True, "budget_s": timeout}`` if the worker did not
    finish in ``timeout`` seconds (the worker — a process we started — is killed then).
    """
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"timeout": True, "budget_s": timeout}
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"rc={proc.returncode}"}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def machine_load() -> str:
    """One line describing the machine and its load (numbers under load are upper bounds)."""
    load = os.getloadavg()
    return (
        f"{platform.node()} {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at {time.strftime('%H:%M UTC', time.gmtime())}"
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
