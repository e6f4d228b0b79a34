"""Benchmark: why the ATE interval is too narrow under thin overlap, on the same nuisances.

Two steps. ``--fit``: over seeded ``causal.simulate_content`` datasets (seed 50,000 + r, as
``bench_coverage_content.py``) run that bench's per-dataset study (the default ATE, the
Crump-trimmed ATE and the ATO, each against its own truth; its ``--summarize`` reads the JSON
written here) and store each dataset's cross-fitted nuisances (``.npz``). ``--analyse``: on
the stored nuisances, no refit, the AIPW ATE with

- other propensity clips (0.001 ... 0.05) instead of the default 0.01;
- other variances of the same scores: CR3 (the cluster jackknife,
  ``sum_g S_g^2 / (1 - h_g)^2``) and CR2 with each unit's leverage its share of its arm's
  inverse-propensity weight (Bell–McCaffrey degrees of freedom from those leverages);
- the true propensity or the true outcome means in place of the fitted ones (which nuisance's
  error the interval misses);
- the Crump-trimmed ATE with the same four nuisance sets;
- overlap diagnostics per dataset: share of units with a fitted propensity outside
  [0.05, 0.95] (what ``estimators`` flag above ``UNRELIABLE_ATE_SHARE``), clipped share,
  Crump bound and the share it drops, the smallest Kish effective-sample-size ratio of the
  arms' inverse-propensity weights.

Run (niced; ~7 CPU s per dataset)::

    nice .venv/bin/python bench/bench_thin_overlap.py --fit --overlap 0.005 --confounding 2 \\
        --start 0 --datasets 10 --out /tmp/thin      # and --start 10, 20, ...
    .venv/bin/python bench/bench_coverage_content.py --summarize /tmp/thin/*.json
    .venv/bin/python bench/bench_thin_overlap.py --analyse --out /tmp/thin
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

import causal
import estimators
from estimators._aipw import aipw_scores, cluster_cr2, crump_threshold, mean_effect_from_scores

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage_content as bc

OUTCOMES = bc.OUTCOMES
CLIPS = (0.001, 0.005, 0.01, 0.02, 0.05)


def fit(overlap: float, confounding: float, start: int, reps: int, rows: int, out: Path) -> None:
    """``bench_coverage_content.one`` per dataset, plus its nuisances stored to ``out``."""
    warnings.filterwarnings("ignore")
    out.mkdir(parents=True, exist_ok=True)
    stash: dict[str, estimators.LinearDML] = {}
    orig = estimators.LinearDML.fit

    def keep(self, *a, **k):  # type: ignore[no-untyped-def]
        res = orig(self, *a, **k)
        stash["est"] = self
        return res

    estimators.LinearDML.fit = keep  # type: ignore[method-assign]
    design = {"overlap": overlap, "confounding": confounding}
    header = (
        f"datasets {start}-{start + reps - 1} x {rows} pins, design {design}, cv=None "
        f"nuisance=None; load average at start {os.getloadavg()[0]:.1f}"
    )
    print(header, flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    res: dict[str, list] = {o: [] for o in OUTCOMES}
    slopes: list[float] = []
    for r in range(start, start + reps):
        seed = 50_000 + r
        for o, v in bc.one(seed, rows, None, None, design).items():
            if o == "_slope":
                slopes.append(v[0])
            else:
                res[o].append([float(x) for x in v])
        est = stash["est"]
        nuis = est._ctx.nuis
        assert nuis.e is not None and nuis.mu is not None
        df = causal.simulate_content(n=rows, seed=seed, **design)
        mu0 = bc.true_outcome_means(df)
        np.savez_compressed(
            out / f"nuis_{seed}.npz",
            e=nuis.e[:, 1],
            mu=nuis.mu,
            y=est._ctx.data.y,
            t=df["boosted"].to_numpy(),
            e_true=df["true_propensity"].to_numpy(),
            g=df["creator_id"].to_numpy(),
            tau=np.column_stack([df[f"true_cate_{o}"].to_numpy() for o in OUTCOMES]),
            mu0=np.column_stack([mu0[o] for o in OUTCOMES]),
        )
        print(
            f"  {r + 1 - start}/{reps}, {time.perf_counter() - t0:.0f} s, "
            f"{time.process_time() - c0:.0f} CPU s",
            flush=True,
        )
    tail = (
        f"total {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU s; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )
    print(tail)
    path = out / f"study_{start}.json"
    path.write_text(json.dumps({"header": header + "; " + tail, "res": res, "slopes": slopes}))


def _cr3(s: np.ndarray, g: np.ndarray) -> float:
    """Cluster-jackknife (CR3) SE of the mean of ``s``."""
    n = len(s)
    counts = np.bincount(g)
    present = counts > 0
    sums = np.bincount(g, weights=s - s.mean())[present]
    h = counts[present] / n
    return float(np.sqrt(np.sum(sums**2 / (1 - h) ** 2)) / n)


def analyse(out: Path) -> None:
    """Variants of the ATE interval on the stored nuisances; see the module docstring."""
    files = sorted(out.glob("nuis_*.npz"))
    acc: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    diag = []

    def add(o: str, k: str, err: float, se: float, q: float) -> None:
        acc.setdefault((o, k), []).append((err, se, q, float(abs(err) <= q * se)))

    for f in files:
        d = np.load(f)
        e, t, et = d["e"], d["t"].astype(bool), d["e_true"]
        _, g = np.unique(d["g"], return_inverse=True)
        lo = crump_threshold(e)
        kept = (e >= lo) & (e <= 1 - lo)
        ec = np.clip(e, 0.01, 0.99)
        w = np.where(t, 1 / ec, 1 / (1 - ec))
        lev = 0.5 * w / np.where(t, w[t].sum(), w[~t].sum())
        ess = min(
            w[t].sum() ** 2 / (w[t] ** 2).sum() / t.sum(),
            w[~t].sum() ** 2 / (w[~t] ** 2).sum() / (~t).sum(),
        )
        diag.append(
            (
                np.mean((e < 0.05) | (e > 0.95)),
                np.mean((et < 0.05) | (et > 0.95)),
                np.mean((e < 0.01) | (e > 0.99)),
                lo,
                1 - kept.mean(),
                ess,
            )
        )
        for j, o in enumerate(OUTCOMES):
            y, tau = d["y"][:, j], d["tau"][:, j]
            truth = float(tau.mean())
            fitted_mu = (d["mu"][:, j, 1], d["mu"][:, j, 0])
            true_mu = (d["mu0"][:, j] + tau, d["mu0"][:, j])
            for clip in CLIPS:
                s = aipw_scores(y, t, ~t, *fitted_mu, e, 1 - e, clip=clip)
                a = mean_effect_from_scores(s, groups=g)
                q = float(stats.t(a.dof).ppf(0.975))
                add(o, f"ATE clip {clip:g}", a.effect - truth, a.se, q)
                if clip == 0.01:
                    add(o, "ATE CR3", a.effect - truth, _cr3(s, g), q)
                    var, dof, _ = cluster_cr2(s - s.mean(), lev, g, float(len(s)))
                    q_w = float(stats.t(dof).ppf(0.975))
                    add(o, "ATE CR2 weight leverage", a.effect - truth, float(np.sqrt(var)), q_w)
            sets = {
                "fitted": (*fitted_mu, e),
                "true e": (*fitted_mu, et),
                "true mu": (*true_mu, e),
                "oracle": (*true_mu, et),
            }
            for name, (m1, m0, ee) in sets.items():
                s = aipw_scores(y, t, ~t, m1, m0, ee, 1 - ee)
                if name != "fitted":
                    a = mean_effect_from_scores(s, groups=g)
                    add(o, f"ATE {name}", a.effect - truth, a.se, float(stats.t(a.dof).ppf(0.975)))
                a = mean_effect_from_scores(s[kept], groups=g[kept])
                add(
                    o,
                    f"trimmed {name}",
                    a.effect - float(tau[kept].mean()),
                    a.se,
                    float(stats.t(a.dof).ppf(0.975)),
                )
    dg = np.array(diag)
    print(f"# {len(files)} datasets in {out}; the same fitted nuisances in every row")
    names = [
        "fitted share outside [0.05, 0.95]",
        "true share outside [0.05, 0.95]",
        "fitted share clipped (0.01)",
        "Crump bound",
        "share the Crump rule drops",
        "min Kish ESS / n of an arm",
    ]
    for k, name in enumerate(names):
        col = dg[:, k]
        print(f"  {name:<36} median {np.median(col):.3f} (range {col.min():.3f}-{col.max():.3f})")
    print(f"{'outcome':<16} {'variant':<24} {'cover':>6} {'mean z':>12} {'SD z':>5} {'SE/SD':>6}")
    for o in OUTCOMES:
        for (oo, k), v in acc.items():
            if oo != o:
                continue
            a = np.array(v)
            z = a[:, 0] / a[:, 1]
            print(
                f"{o:<16} {k:<24} {a[:, 3].mean():>6.3f} "
                f"{z.mean():>+6.2f}±{z.std(ddof=1) / np.sqrt(len(z)):.2f} {z.std(ddof=1):>5.2f} "
                f"{a[:, 1].mean() / a[:, 0].std(ddof=1):>6.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--analyse", action="store_true")
    ap.add_argument("--overlap", type=float, default=0.005)
    ap.add_argument("--confounding", type=float, default=2.0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--datasets", type=int, default=10)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--out", type=Path, required=True, help="directory for .npz and .json")
    args = ap.parse_args()
    if args.fit:
        fit(args.overlap, args.confounding, args.start, args.datasets, args.rows, args.out)
    if args.analyse:
        analyse(args.out)


if __name__ == "__main__":
    main()
