"""Make ``sklearn_astromer/data/crts_sample.parquet``, the light-curve sample shipped with the package.

60 objects of each CRTS-5 class (EA, EW, RRab, RRc, RS_CVn), 300 in all, drawn without
replacement with a fixed seed from the shared file ``../shared/data/crts_train.parquet``
(Drake et al. 2014, ApJS 213, 9; Catalina Sky Survey; as collected in the public repository
``kvmu/lightcurve-classification``). Rows are copied as they are (times float64, magnitudes
and errors float32), sorted by class then object id, and written with zstd compression.

Run from the project root::

    python benchmarks/make_crts_sample.py
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "crts_train.parquet"
TARGET = ROOT / "sklearn_astromer" / "data" / "crts_sample.parquet"
CLASSES = ["EA", "EW", "RRab", "RRc", "RS_CVn"]
PER_CLASS = 60
SEED = 0


def main():
    table = pq.read_table(SOURCE)
    labels = table["label"].to_numpy(zero_copy_only=False)
    rng = np.random.default_rng(SEED)
    rows = []
    for name in CLASSES:
        candidates = np.flatnonzero(labels == name)
        rows.append(np.sort(rng.choice(candidates, size=PER_CLASS, replace=False)))
    sample = table.take(pa.array(np.concatenate(rows)))
    sample = sample.take(pc.sort_indices(sample, [("label", "ascending"), ("object_id", "ascending")]))
    schema = pa.schema(
        [
            ("object_id", pa.string()),
            ("label", pa.string()),
            ("band", pa.string()),
            ("ra", pa.float64()),
            ("dec", pa.float64()),
            ("mjd", pa.list_(pa.float64())),
            ("mag", pa.list_(pa.float32())),
            ("mag_err", pa.list_(pa.float32())),
        ]
    )
    sample = sample.select(schema.names).cast(schema).replace_schema_metadata(None)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(sample, TARGET, compression="zstd", compression_level=19)
    print(f"{TARGET}: {sample.num_rows} objects, {TARGET.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
