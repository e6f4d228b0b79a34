"""A fast IHDP check of the default estimator (a few replications; the full 50 are in bench).

IHDP (NPCI setting A) is semi-synthetic with known
``mu0``/``mu1``. The default estimator is fit on the 672 standard training units of each
replication; its in-sample √PEHE must beat the *oracle constant* predictor (the true mean
effect for everyone, whose √PEHE is SD(τ)) — i.e. it learned real heterogeneity — and stay under
a regression ceiling; its doubly-robust ATE must sit within a few of its own SEs of the truth.
The five replications used ship with the repository (``tests/data/ihdp``, source and licence in
the README there), so these tests run on every clone; the bench reads all 50 from shared/.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimators

IHDP_FILE = (
    Path(__file__).resolve().parents[1] / "data" / "ihdp" / "ihdp_npci_reps_1_4_5_8_28.csv.gz"
)
COLUMNS = ["treatment", "y_factual", "y_cfactual", "mu0", "mu1"] + [f"x{i}" for i in range(1, 26)]
# Replications with real effect heterogeneity (SD of the true CATE on the training units: 1.9,
# 2.6, 1.5; most replications have SD < 1), replication 1, the usual smoke case, and replication
# 28, one of the heavy-tailed ones (SD 42: mu0 = exp(linear) up to 340) that dominate the mean
# over all 50.
REPS = (1, 4, 5, 8, 28)
# The README's published check: replication 1 has SATE 4.016 over all 747 units.
REP1_SATE = 4.016
REP1_ATOL = 5e-4  # the README rounds to three decimals
# Ceiling on the mean in-sample √PEHE over REPS. The default AutoCate scored 0.46/0.49/0.62/0.64/
# 0.52 on these (bench/bench_autocate.py, seed = replication; mean 0.55). With outcome
# nuisances from LightGBM alone (before the outcome library) replication 28 alone scored 7.6, and
# a linear T-learner (OLS per arm) scores 0.69/0.68/1.05/1.16/19.5. The target is <= 1.0
# over all 50; 0.8 leaves room for seed noise and fails a return to trees-only nuisances.
PEHE_CEILING = 0.8
ATE_Z_MAX = 4.0  # |ATE - SATE| ≤ 4 SE; a correct SE exceeds this with probability 6e-5 a rep


def load(rep: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Replication ``rep`` as a DataFrame and its boolean mask of the 75 standard test units."""
    data = _all()
    rows = data.loc[data["replication"] == rep].sort_values("csv_row")
    assert len(rows) == 747, f"replication {rep} is not shipped in {IHDP_FILE.name}"
    return rows[COLUMNS].reset_index(drop=True), rows["is_test"].to_numpy() == 1


@functools.cache
def _all() -> pd.DataFrame:
    return pd.read_csv(IHDP_FILE)


def test_ihdp_files_match_readme():
    df, test = load(1)
    assert df.shape == (747, 30)
    assert int(df["treatment"].sum()) == 139
    assert int(test.sum()) == 75
    np.testing.assert_allclose((df["mu1"] - df["mu0"]).mean(), REP1_SATE, atol=REP1_ATOL)


@pytest.fixture(scope="module")
def fits() -> list[dict[str, float]]:
    out = []
    for rep in REPS:
        df, test = load(rep)
        train = df.loc[~test]
        x = train[[f"x{i}" for i in range(1, 26)]]
        tau = (train["mu1"] - train["mu0"]).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = estimators.AutoCate(random_state=0, n_jobs=1).fit(
                train["y_factual"].to_numpy(), train["treatment"].to_numpy(), X=x
            )
        tau_hat = np.asarray(est.effect(x), dtype=float).reshape(-1)
        ate = float(np.asarray(est.ate(), dtype=float).reshape(-1)[0])
        lo, hi = (float(np.asarray(v, dtype=float).reshape(-1)[0]) for v in est.ate_interval())
        out.append(
            {
                "rep": rep,
                "pehe": float(np.sqrt(np.mean((tau_hat - tau) ** 2))),
                "oracle_constant_pehe": float(tau.std()),
                "ate_z": abs(ate - tau.mean()) / ((hi - lo) / (2 * 1.959963984540054)),
            }
        )
    print(out)  # shown with pytest -s
    return out


def test_autocate_learns_heterogeneity_on_ihdp(fits):
    for f in fits:
        assert f["pehe"] < f["oracle_constant_pehe"], f
    mean_pehe = np.mean([f["pehe"] for f in fits])
    assert mean_pehe <= PEHE_CEILING, fits


def test_autocate_ate_within_its_interval_scale_on_ihdp(fits):
    for f in fits:
        assert f["ate_z"] <= ATE_Z_MAX, f
