"""Rebuild the small real-data files of ``tests/data`` from the original CSVs.

Run from the repository root with the original files at hand (see ``tests/data/README.md``)::

    python tests/data/make_real_data.py PATH/hillstrom.csv PATH/cookie_cats.csv

Only the columns the tests use are kept, with the narrowest exact types, as zstd-compressed
Parquet; every value is unchanged (the script checks this by reading the files back).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def hillstrom(src: str) -> pd.DataFrame:
    df = pd.read_csv(src, usecols=["segment", "mens", "womens", "visit", "conversion", "spend"])
    out = df.astype({c: "int8" for c in ("mens", "womens", "visit", "conversion")})
    out["segment"] = out["segment"].astype("string")
    return out[["segment", "visit", "conversion", "spend", "mens", "womens"]]


def cookie_cats(src: str) -> pd.DataFrame:
    df = pd.read_csv(src, usecols=["version", "sum_gamerounds", "retention_1", "retention_7"])
    out = df.astype({"sum_gamerounds": "int32", "retention_1": bool, "retention_7": bool})
    out["version"] = out["version"].astype("string")
    return out


def main(hill_csv: str, cookie_csv: str) -> None:
    for name, frame, src in (
        ("hillstrom", hillstrom(hill_csv), hill_csv),
        ("cookie_cats", cookie_cats(cookie_csv), cookie_csv),
    ):
        path = HERE / f"{name}.parquet"
        frame.to_parquet(path, index=False, compression="zstd", compression_level=19)
        back = pd.read_parquet(path)
        orig = pd.read_csv(src, usecols=list(frame.columns))[list(frame.columns)]
        for c in frame.columns:  # same values as the source, column by column
            assert (back[c].astype(str).to_numpy() == orig[c].astype(str).to_numpy()).all() or (
                (back[c].to_numpy() == orig[c].to_numpy()).all()
            ), (name, c)
        print(f"{path.name}: {len(back):,} rows, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(*sys.argv[1:3])
