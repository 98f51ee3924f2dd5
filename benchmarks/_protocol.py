"""The few-shot protocol: which light curves train, test, or stay unlabelled, per seed.

The protocol (see ``shared/data/README.md``): for each seed, draw a test set of
``test_per_class`` objects per class first, then ``spc`` training objects per class from the
rest (a class with fewer objects left contributes all it has). Everything else in the training
file that is neither test nor training is the *unlabelled pool*, which a method may use without
labels (self-supervised fine-tuning).

Draws are reproducible by construction: each class is drawn with its own random generator,
seeded from ``(seed, class name)``, over the class's objects sorted by ``object_id``. So a draw
depends only on the seed, the class, ``spc``, ``test_per_class`` and the data, not on the row
order of the file nor on which other classes are in the protocol (CRTS-5 and CRTS-9 share the
draws of their common classes). For a given seed the test set does not depend on ``spc``, and the
training sets are nested (the 20 objects drawn at ``spc=20`` are among the 100 at ``spc=100``),
so that differences between sample sizes are not blurred by different test sets.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sklearn_astromer import datasets

CRTS5_CLASSES = ("EA", "EW", "RRab", "RRc", "RS_CVn")
CRTS9_CLASSES = CRTS5_CLASSES + ("LPV", "RRd", "beta_lyrae", "HADS")

#: Named protocols: classes and default training sizes (samples per class).
PROTOCOLS = {
    "CRTS-5": {"classes": CRTS5_CLASSES, "spc": (20, 100, 500)},
    "CRTS-9": {"classes": CRTS9_CLASSES, "spc": (20, 100)},
}

#: Default training sizes for a custom ``--classes`` list.
DEFAULT_CUSTOM_SPC = (20, 100)


@dataclass
class LightCurveSet:
    """Light curves of one parquet file (one band, or several), with their labels.

    Attributes
    ----------
    object_ids : ndarray of str of shape (n_objects,)
    labels : ndarray of str of shape (n_objects,)
    curves : list of ndarray of shape (n_observations_i, 3), or list of dict
        Columns time (days), magnitude, magnitude error; float64. With several bands, one
        dict per object mapping each band it has to such an array.
    source : str
        Where the set was read from.
    bands : tuple of str
        The bands of a multi-band set, in the order methods use them; empty for one band.
    """

    object_ids: np.ndarray
    labels: np.ndarray
    curves: list
    source: str = ""
    bands: tuple = ()

    def __len__(self):
        return len(self.curves)

    def subset(self, index):
        """Return the curves at ``index`` (a sequence of positions) as a list."""
        return [self.curves[i] for i in index]


def load_light_curves(path, band=None):
    """Read a parquet file of the shared schema into a :class:`LightCurveSet`.

    Parameters
    ----------
    path : str or Path
        Parquet file with columns ``object_id, label, band, mjd, mag, mag_err``.
    band : str or None, default=None
        Keep only this band. None requires the file to hold a single band. A comma list
        (``"g,r"``) or a list of several bands reads them all: one object per id, each a
        dict of its bands' curves, for the methods' multi-band variants.

    Returns
    -------
    LightCurveSet

    Notes
    -----
    The package's reader (:func:`sklearn_astromer.datasets.load_light_curves`) applies the
    package's cleaning rule: observations at placeholder times (before MJD 0; in the CRTS
    file four curves carry one at MJD -2409998.5, a Julian date of 0) are dropped.
    """
    bands = [b for b in band.split(",") if b] if isinstance(band, str) else band
    if bands is not None and len(bands) > 1:
        return _load_multiband(path, bands)
    curves, labels, ids = datasets.load_light_curves(path, band=band, return_ids=True)
    if pd.Series(ids).duplicated().any():
        raise ValueError(
            f"{path}: object ids repeat; expected one row per object (if the file holds "
            "several bands, choose one with --band B, or use them all with --band B1,B2)"
        )
    return LightCurveSet(
        object_ids=np.asarray(ids, dtype=str),
        labels=np.asarray(labels, dtype=str),
        curves=curves,
        source=str(path),
    )


def _load_multiband(path, bands):
    """A multi-band :class:`LightCurveSet`: one dict band -> curve per object id."""
    mb, labels = datasets.load_multiband_light_curves(path, bands=bands)
    if labels is None:
        raise ValueError(f"{path}: no label column")
    curves = []
    for k in range(len(mb)):
        curves.append({
            band: np.column_stack([t, m] + ([] if e is None else [e]))
            for band, (t, m, e) in mb[k].items()
        })
    return LightCurveSet(
        object_ids=np.asarray(mb.ids, dtype=str), labels=np.asarray(labels, dtype=str),
        curves=curves, source=str(path), bands=tuple(mb.bands),
    )


@dataclass
class Draw:
    """One draw of the protocol: positions into the training and test sets.

    Attributes
    ----------
    seed, spc, test_per_class : int
    classes : tuple of str
    train : ndarray of int
        Positions of the labelled training objects in the training set.
    test : ndarray of int
        Positions of the test objects in the test set (the training set itself unless a
        separate test file is used).
    unlabelled : ndarray of int
        Positions in the training set of the objects neither drawn for training nor in the test
        set, of any class: the pool for self-supervised fine-tuning.
    """

    seed: int
    classes: tuple
    spc: int
    test_per_class: int
    train: np.ndarray
    test: np.ndarray
    unlabelled: np.ndarray = field(repr=False)


def _class_generator(seed, label, role):
    """Generator seeded by ``(seed, class, role)``: a class's draw ignores the other classes."""
    label_key = zlib.crc32(label.encode("utf-8"))
    role_key = zlib.crc32(role.encode("utf-8"))
    return np.random.default_rng([int(seed), label_key, role_key])


def _shuffled_class_members(object_ids, labels, label, seed, role):
    """Positions of ``label`` in a seeded random order that ignores the file's row order."""
    members = np.flatnonzero(labels == label)
    members = members[np.argsort(object_ids[members], kind="stable")]
    return _class_generator(seed, label, role).permutation(members)


def _test_size(n_available, test_per_class, label):
    """How many of a class's objects go to the test set when test and training share a file.

    ``test_per_class`` when the class has more objects than that; otherwise half of them
    (rounded down), so that the class still has training objects.
    """
    if n_available > test_per_class:
        return test_per_class
    n_test = n_available // 2
    warnings.warn(
        f"class {label!r} has only {n_available} objects: {n_test} go to the test set "
        f"instead of {test_per_class}",
        stacklevel=3,
    )
    return n_test


def draw_split(train_set, classes, spc, seed, test_per_class=100, test_set=None):
    """Draw the test, training and unlabelled objects for one seed.

    Parameters
    ----------
    train_set : LightCurveSet
        The labelled objects to draw from.
    classes : sequence of str
        Classes of the task; every one must occur in ``train_set`` (and ``test_set``).
    spc : int
        Training objects per class (a class with fewer available contributes all it has).
    seed : int
        Seed of the draw.
    test_per_class : int, default=100
        Test objects per class. With a separate ``test_set`` a class with fewer objects there
        contributes all of them, and 0 means all of them.
    test_set : LightCurveSet or None, default=None
        Separate file to draw the test objects from. Training objects whose ``object_id`` is in
        the test set are excluded (from training and from the unlabelled pool).

    Returns
    -------
    Draw
    """
    classes = tuple(classes)
    _check_classes(train_set, classes, "training data")
    if test_set is not None:
        _check_classes(test_set, classes, "test data")
    if spc < 1:
        raise ValueError(f"spc must be at least 1, got {spc}")
    if test_per_class < (0 if test_set is not None else 1):
        raise ValueError(
            f"test_per_class must be >= 1 (>= 0 with a separate test set), got {test_per_class}"
        )

    test = np.concatenate(
        [_draw_test(train_set, test_set, label, seed, test_per_class) for label in classes]
    )
    excluded = np.zeros(len(train_set), dtype=bool)
    if test_set is None:
        excluded[test] = True
    else:
        # The same object in both files would put a test light curve into training.
        excluded |= np.isin(train_set.object_ids, test_set.object_ids[test])

    train = []
    for label in classes:
        # Same permutation as the test draw when both come from one file: the test objects
        # are its first ones, the training objects the next ``spc`` (hence nested in spc).
        members = _shuffled_class_members(
            train_set.object_ids, train_set.labels, label, seed, "split"
        )
        train.append(members[~excluded[members]][:spc])
    train = np.concatenate(train)
    excluded[train] = True
    return Draw(
        seed=int(seed),
        classes=classes,
        spc=int(spc),
        test_per_class=int(test_per_class),
        train=train,
        test=test,
        unlabelled=np.flatnonzero(~excluded),
    )


def _draw_test(train_set, test_set, label, seed, test_per_class):
    """Positions of the test objects of one class (in ``test_set``, or ``train_set`` if None)."""
    if test_set is None:
        members = _shuffled_class_members(
            train_set.object_ids, train_set.labels, label, seed, "split"
        )
        return members[: _test_size(members.size, test_per_class, label)]
    members = _shuffled_class_members(test_set.object_ids, test_set.labels, label, seed, "test")
    return members[: test_per_class or None]


def _check_classes(dataset, classes, what):
    present = set(np.unique(dataset.labels))
    missing = [label for label in classes if label not in present]
    if missing:
        raise ValueError(
            f"classes {missing} not found in the {what} ({dataset.source}); "
            f"available: {sorted(present)}"
        )


def shared_pool(draws):
    """Positions of the training-file objects that are in no test set of any of ``draws``.

    Parameters
    ----------
    draws : sequence of Draw
        Draws of the same training file.

    Returns
    -------
    ndarray of int
        Objects that every draw may use without labels: each draw's training and unlabelled
        objects, intersected over the draws. The training objects of a draw are among them;
        methods get them without their labels through the pool, and with labels as the
        training set.
    """
    usable = None
    for draw in draws:
        allowed = set(draw.unlabelled.tolist()) | set(draw.train.tolist())
        usable = allowed if usable is None else usable & allowed
    return np.array(sorted(usable or ()), dtype=int)
