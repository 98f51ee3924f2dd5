"""scikit-learn's common estimator checks, in a tiny configuration."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_astromer import AstromerClassifier, AstromerEmbedder

TINY = dict(weights=None, n_layers=1, n_heads=2, d_model=8, d_ff=8, window_length=16, max_epochs=1, random_state=0)

EXPECTED_FAILED = {
    "check_n_features_in_after_fitting": (
        "light curves of any length are accepted at transform and predict: a "
        "2-D array's width is its number of observations, not a fixed feature count"
    ),
    "check_transformer_general": (
        "includes the fixed-width check above; fit_transform == fit + transform "
        "is tested in test_embedder.py"
    ),
    "check_classifiers_train": (
        "includes the fixed-width check above; the classifier's training is "
        "tested on periodic light curves in test_classifier.py"
    ),
    "check_classifier_data_not_an_array": (
        "also feeds a wide DataFrame; a DataFrame is read as a table of "
        "observations (long or nested), with named time and magnitude columns"
    ),
}


def expected_failed(estimator):
    return EXPECTED_FAILED


@parametrize_with_checks(
    [
        AstromerEmbedder(**TINY),
        AstromerEmbedder(pooling="weighted", head_epochs=5, **TINY),
        AstromerClassifier(hidden_layer_sizes=(16,), head_epochs=30, **TINY),
    ],
    expected_failed_checks=expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
