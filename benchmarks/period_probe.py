"""Probe saved models on the few-shot draws, without the harness's per-method pipelines.

Embeds every CRTS curve once with each model folder given (folded at the cached features'
periods when its configuration says so), then fits the harness's 500-tree forest on the
draws of CRTS-5 and CRTS-9 at 20 and 100 per class, seeds 0-2: the embedding alone ("emb",
the last block's mean or every layer's mean), the features next to it ("hyb") and the
features next to 8 principal components fitted on the draw's pool ("hybpca"). ``features``
as an argument scores the features alone. Used to choose the pretraining objective of
``pretrain_period.py``::

    python benchmarks/period_probe.py features MODEL_FOLDER [MODEL_FOLDER ...]
"""
import sys
import time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _caching import CachedTransform
from _protocol import load_light_curves, draw_split, CRTS5_CLASSES, CRTS9_CLASSES
from sklearn_astromer import as_light_curves
from sklearn_astromer._io import load_model
from sklearn_astromer._model import Astromer
from sklearn_astromer._inference import encode
from sklearn_astromer.features import LightCurveFeatures
from sklearn_astromer.periods import fold_light_curves
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import f1_score

CACHE = Path(__file__).resolve().parent / ".cache"
crts = load_light_curves(Path(__file__).resolve().parents[2] / "shared" / "data" / "crts_train.parquet")
lc = as_light_curves(crts.curves)
feat = CachedTransform(LightCurveFeatures(n_jobs=-1), cache_dir=CACHE).fit(lc)
F = feat.transform(lc)
names = list(feat.get_feature_names_out())
periods = F[:, names.index("fourier_period")]
F = SimpleImputer().fit_transform(F)

def embed(folder):
    config, state, extra = load_model(folder)
    m = Astromer(config); m.load_state_dict(state); m.eval()
    folded = fold_light_curves(lc, periods, config.fold_cycles, max_observations=config.window_length) if config.fold_cycles else lc
    t = time.time()
    E = encode(m, folded, ["layer_means"], batch_size=256)["layer_means"]
    print("embed", time.time() - t, E.shape, flush=True)
    return E

def run(E, label):
    rows = {}
    for proto, classes, spcs in [("CRTS-5", CRTS5_CLASSES, (20, 100)), ("CRTS-9", CRTS9_CLASSES, (20, 100))]:
        for spc in spcs:
            scores = {"emb": [], "feat": [], "hyb": [], "hybpca": []}
            for seed in (0, 1, 2):
                d = draw_split(crts, classes, spc, seed)
                ytr, yte = crts.labels[d.train], crts.labels[d.test]
                pool = np.concatenate([d.train, d.unlabelled])
                if E.shape[1] >= 8:
                    sc = StandardScaler().fit(E[pool]); pca = PCA(8, random_state=seed).fit(sc.transform(E[pool]))
                    Ep = pca.transform(sc.transform(E))
                else:
                    Ep = E
                for key, Z in (("emb", E), ("feat", F), ("hyb", np.hstack([F, E])), ("hybpca", np.hstack([F, Ep]))):
                    if (key == "feat") != (label == "features"):
                        continue
                    rf = RandomForestClassifier(500, n_jobs=2, random_state=seed).fit(Z[d.train], ytr)
                    scores[key].append(100 * f1_score(yte, rf.predict(Z[d.test]), average="macro"))
            rows[f"{proto}/{spc}"] = {k: (round(np.mean(v), 1), round(np.std(v), 1)) for k, v in scores.items()}
            print(label, proto, spc, rows[f"{proto}/{spc}"], flush=True)
    return rows

if __name__ == "__main__":
    for folder in sys.argv[1:]:
        if folder == "features":
            run(F[:, :1], "features")
            continue
        E = embed(folder)
        for pool in ("last", "all"):
            Z = E[:, -1] if pool == "last" else E.reshape(len(E), -1)
            run(Z, f"{Path(folder).name}:{pool}")
