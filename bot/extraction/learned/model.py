"""A linear classifier stored as plain arrays: feature names, weights, bias.

Trained with scikit-learn (`make train`), but read and applied here with numpy alone, so
inference needs no scikit-learn, loads no pickle and gives the same numbers on every CPU.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, fields
from itertools import repeat
from pathlib import Path

import numpy as np

LABELS = ("none", "seeks", "backs", "opposes", "doubts")
HALF = "float16"  # `meta["weights"]` of a model stored in half precision


@dataclass(frozen=True)
class LinearModel:
    """Multinomial logistic regression over sparse binary features."""

    labels: tuple[str, ...]
    index: dict[str, int]
    weights: np.ndarray  # (labels, features), float32
    bias: np.ndarray  # (labels,), float32
    meta: dict[str, object]
    # derived for `batch_scores`: the weights feature by feature, in their own precision
    # (float32 halves the memory a gather touches; sums are taken in float64)
    _by_feature: np.ndarray = field(init=False, repr=False, compare=False)
    _bias64: np.ndarray = field(init=False, repr=False, compare=False)
    # derived for `label_scores`, on first use: one label's weights by feature name
    _by_name: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_feature = np.ascontiguousarray(self.weights.T)
        bias64 = self.bias.astype(np.float64)
        for derived in (by_feature, bias64):
            derived.setflags(write=False)  # shared by every thread that scores
        object.__setattr__(self, "_by_feature", by_feature)
        object.__setattr__(self, "_bias64", bias64)
        object.__setattr__(self, "_by_name", {})

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the derived copies (a worker process rebuilds them). Read field by
        field: compiled (`bot.native`), the class has no `__dict__`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    def scores(self, features: dict[str, float]) -> np.ndarray:
        """The linear score of each label."""
        cols = [self.index[f] for f in features if f in self.index]
        vals = np.array([features[f] for f in features if f in self.index], dtype=np.float64)
        scores = self.bias.astype(np.float64).copy()
        if cols:
            scores += self.weights[:, cols].astype(np.float64) @ vals
        return scores

    def label_scores(self, rows: list[dict[str, float]], label: str, *, bias: bool = True
                     ) -> list[float]:
        """The linear score of one label for each feature set (without the bias if `bias` is
        false: a part of a score), summed in Python floats: for the few rows of one choice
        (the guarantor's options), cheaper than any numpy call. Meant for small models: the
        first call copies that label's weights into a dict."""
        row = self.labels.index(label)
        weights = self._by_name.get(label)
        if weights is None:  # built once per label; a race only builds the same dict twice
            weights = {name: float(self.weights[row, col]) for name, col in self.index.items()}
            self._by_name[label] = weights
        offset = float(self.bias[row]) if bias else 0.0
        get = weights.get
        out = []
        for features in rows:
            values = list(features.values())
            if values.count(1.0) == len(values):  # indicators only: the same sum, no products
                out.append(offset + sum(map(get, features, repeat(0.0))))
            else:
                out.append(offset + sum(get(name, 0.0) * value
                                        for name, value in features.items()))
        return out

    def batch_scores(self, rows: list[dict[str, float]]) -> np.ndarray:
        """The linear scores of many feature sets at once, (rows, labels): one gather and one
        segmented sum instead of a numpy call per row."""
        get = self.index.get
        cols: list[int] = []
        starts: list[int] = []
        scaled: list[tuple[int, float]] = []  # (place in cols, value) where a value is not 1
        for features in rows:
            starts.append(len(cols))
            row_values = list(features.values())
            if row_values.count(1.0) == len(row_values):  # indicators, as nearly every row is
                cols.extend([col for col in map(get, features) if col is not None])
                continue
            for name, value in features.items():
                col = get(name)
                if col is not None:
                    if value != 1.0:
                        scaled.append((len(cols), value))
                    cols.append(col)
        out = np.tile(self._bias64, (len(rows), 1))
        if cols:
            # rows of the feature-major copy are contiguous: gathering them is cheap; the sums
            # then run along contiguous memory, in the same order as a label-major layout
            gathered = self._by_feature[cols]
            if scaled:
                places, values = zip(*scaled, strict=True)
                gathered = gathered.astype(np.float64)
                gathered[list(places)] *= np.array(values)[:, None]
            # plus a zero column at the end, so that trailing rows with no feature have an index
            weighted = np.zeros((len(self.labels), len(cols) + 1))
            weighted[:, :-1] = gathered.T
            sums = np.add.reduceat(weighted, starts, axis=1).T
            # reduceat gives a row with no feature its next row's first column: zero those
            counts = np.diff([*starts, len(cols)])
            sums[counts == 0] = 0.0
            out += sums
        return out

    def batch_independent(self, rows: list[dict[str, float]]) -> list[dict[str, float]]:
        """`independent` for many feature sets."""
        if not rows:
            return []
        probs = 1.0 / (1.0 + np.exp(-self.batch_scores(rows)))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]

    def _batch_softmax(self, rows: list[dict[str, float]]) -> np.ndarray:
        """P(label | features) of mutually exclusive labels, (rows, labels)."""
        scores = self.batch_scores(rows)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def batch_probabilities(self, rows: list[dict[str, float]]) -> list[dict[str, float]]:
        """`probabilities` for many feature sets."""
        if not rows:
            return []
        return [dict(zip(self.labels, map(float, row), strict=True))
                for row in self._batch_softmax(rows)]

    def batch_likeliest(self, rows: list[dict[str, float]], skip: str
                        ) -> list[tuple[str, float]]:
        """For each feature set, the likeliest label other than `skip` (the first of equals,
        in label order) and its probability: what `batch_probabilities` gives, without a
        dict per row."""
        if not rows:
            return []
        probs = self._batch_softmax(rows)
        kept = [i for i, label in enumerate(self.labels) if label != skip]
        best = probs[:, kept].argmax(axis=1)
        labels = [self.labels[kept[j]] for j in best.tolist()]
        return list(zip(labels, probs[np.arange(len(rows)), [kept[j] for j in best]].tolist(),
                        strict=True))

    def independent(self, features: dict[str, float]) -> dict[str, float]:
        """P(label | features) of one-vs-rest labels, each on its own (a logistic per label)."""
        probs = 1.0 / (1.0 + np.exp(-self.scores(features)))
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def probabilities(self, features: dict[str, float]) -> dict[str, float]:
        """P(label | features) of mutually exclusive labels (a softmax), by label."""
        scores = self.scores(features)
        scores -= scores.max()
        exp = np.exp(scores)
        probs = exp / exp.sum()
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def halved(self) -> LinearModel:
        """The same model with its weights rounded to half precision (and saved so: half the
        bytes of a large model). Its version says so, since a few scores move in the last
        digits."""
        meta = {**self.meta, "weights": HALF, "version": f"{self.meta.get('version', '')}h"}
        weights = self.weights.astype(np.float16).astype(np.float32)
        return LinearModel(self.labels, self.index, weights, self.bias, meta)

    def save(self, path: Path) -> None:
        names = sorted(self.index, key=self.index.__getitem__)
        buffer = io.BytesIO()
        # a halved model's weights are exact in float16: storing them so loses nothing
        stored = np.float16 if self.meta.get("weights") == HALF else np.float32
        np.savez_compressed(
            buffer,
            weights=self.weights.astype(stored),
            bias=self.bias.astype(np.float32),
            names=np.array(names, dtype=np.str_),
            labels=np.array(self.labels, dtype=np.str_),
            meta=np.array(json.dumps(self.meta, sort_keys=True), dtype=np.str_),
        )
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, data: bytes) -> LinearModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            names = [str(n) for n in arrays["names"]]
            return cls(
                labels=tuple(str(label) for label in arrays["labels"]),
                index={name: i for i, name in enumerate(names)},
                weights=np.ascontiguousarray(arrays["weights"], dtype=np.float32),
                bias=arrays["bias"].copy(),
                meta=json.loads(str(arrays["meta"])),
            )
