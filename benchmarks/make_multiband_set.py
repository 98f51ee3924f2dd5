"""Write a synthetic two-band light-curve set (parquet, one row per object and band).

The set the multi-band methods of the few-shot harness are checked on: six classes of
:func:`sklearn_astromer.datasets.make_multiband_light_curves` (RRab, RRc, EA, EW, LPV,
Cepheid) seen in a blue band ``B`` and a red band ``R`` with an EROS-like (both bands at once,
~120 observations over ~900 days) or ZTF-like (bands on separate nights) cadence, where the
classes' colours and amplitude ratios differ as in real stars.

Example::

    python benchmarks/make_multiband_set.py --out benchmarks/.cache/eros_like.parquet
    python benchmarks/fewshot.py --data benchmarks/.cache/eros_like.parquet \\
        --classes RRab,RRc,EA,EW,LPV,Cepheid --band B,R --methods features-rf
"""

import argparse
from pathlib import Path

from sklearn_astromer.datasets import make_multiband_light_curves, write_multiband_light_curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="parquet file to write")
    parser.add_argument("--n-per-class", type=int, default=250)
    parser.add_argument("--cadence", choices=["eros", "ztf"], default="eros")
    parser.add_argument("--noise", type=float, default=0.1,
                        help="1-sigma error at magnitude 15 in the red band (default 0.1)")
    parser.add_argument("--missing-band", type=float, default=0.0,
                        help="fraction of objects observed in one band only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X, y = make_multiband_light_curves(
        args.n_per_class, cadence=args.cadence, noise=args.noise,
        missing_band=args.missing_band, random_state=args.seed,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ids = [f"{args.cadence}-{k:05d}" for k in range(len(X))]
    write_multiband_light_curves(args.out, X, y, ids=ids)
    print(f"wrote {len(X)} objects in bands B, R -> {args.out}")


if __name__ == "__main__":
    main()
