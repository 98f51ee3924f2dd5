"""Astromer in an sktime pipeline and grid search.

Synthetic light curves of three classes become an unequal-length sktime panel
(``pd-multiindex``: one row per observation, indexed by object and observation number,
with ``mjd``, ``mag`` and ``mag_err`` columns). :class:`AstromerTransformer` embeds each
light curve (a small model trained from scratch, self-supervised) and a logistic
regression classifies the embeddings; sktime's grid search picks the pooling.

Run::

    python examples/sktime_pipeline.py
"""

import argparse

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sktime.classification.model_selection import TSCGridSearchCV

from sklearn_astromer.datasets import make_light_curves
from sklearn_astromer.sktime import AstromerTransformer


def to_panel(X, ids):
    """Light curves as a pd-multiindex panel with the times in an ``mjd`` column."""
    return pd.concat(
        {oid: pd.DataFrame({"mjd": x[:, 0], "mag": x[:, 1], "mag_err": x[:, 2]})
         for oid, x in zip(ids, X)},
        names=["object", "observation"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = make_light_curves(n_per_class=args.n_per_class, classes=["RRab", "EA", "LPV"],
                             n_obs=(40, 150), random_state=args.seed)
    ids = [f"star{k:03d}" for k in range(len(X))]
    train, test = train_test_split(range(len(X)), test_size=0.3, stratify=y,
                                   random_state=args.seed)
    panel_train = to_panel([X[i] for i in train], [ids[i] for i in train])
    panel_test = to_panel([X[i] for i in test], [ids[i] for i in test])

    embed = AstromerTransformer(
        weights=None, preset="astromer2", n_layers=1, d_model=32, d_ff=64,
        window_length=100, max_epochs=args.epochs, time_column="mjd", err_column="mag_err",
        random_state=args.seed,
    )
    # transformer * sklearn estimator -> sktime's SklearnClassifierPipeline
    pipe = embed * make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    search = TSCGridSearchCV(
        pipe,
        param_grid={"transformers__astromertransformer__pooling": ["mean", "max"]},
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=args.seed),
        scoring="f1_macro",
    )
    search.fit(panel_train, y[train])
    predicted = search.predict(panel_test)
    score = f1_score(y[test], predicted, average="macro")
    print(f"best pooling: {search.best_params_}, test macro-F1 {score:.3f} "
          f"on {len(test)} light curves")
    return score


if __name__ == "__main__":
    main()
