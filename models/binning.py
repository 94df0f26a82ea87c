"""Monotone binning and weight-of-evidence (WoE) encoding: the inputs of a credit scorecard.

Every input is cut into bins whose bad rates run in one direction, so that its points never
run against the risk. A numeric column is first cut at quantiles (``max_bins`` pre-bins); the
pre-bins' bad rates are then made monotone by isotonic regression (pool-adjacent-violators,
scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`) and the pre-bins it pools are
merged; bins under ``min_bin_share`` of the rows are merged into their closest neighbour.
Missing values and declared special values get bins of their own. A text column keeps a bin per
level with enough rows; rarer levels, and levels never seen in training, share one bin.

Why not optbinning: its solver (OR-Tools) and protobuf pins would ride along in every
registered model's environment, for an optimal cut that the pooled quantile cut matches within
noise on credit tables; this is 200 lines on scikit-learn, which the models already need.

WoE is ``ln(share of goods / share of bads)`` per bin (0.5 added to every count, so a bin with
no bads stays finite): positive is safer than average. A column whose bins tell nothing
(information value under ``min_iv``) is left out, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

TRENDS = ("auto", "ascending", "descending", "peak", "valley")
# Config words for a direction of risk, shared with the trees' monotone constraints.
DIRECTIONS = {"increasing": "ascending", "decreasing": "descending"}
MISSING, OTHER = "(missing)", "(other)"
_SMOOTH = 0.5


@dataclass
class ColumnBins:
    """The fitted bins of one input.

    Numeric: bin ``k`` holds ``cuts[k-1] <= x < cuts[k]`` (first and last bins open-ended).
    Text: ``levels[k]`` is bin ``k``'s level; the :data:`OTHER` bin takes the rest.
    """

    name: str
    kind: str  # "numeric" | "categorical"
    trend: str  # the direction the bad rates follow ("none" for text)
    cuts: np.ndarray = field(default_factory=lambda: np.empty(0))
    levels: list[str] = field(default_factory=list)
    specials: list[float] = field(default_factory=list)
    # Per bin, in order: regular bins, then specials, then the missing bin.
    labels: list[str] = field(default_factory=list)
    count: np.ndarray = field(default_factory=lambda: np.empty(0))
    bads: np.ndarray = field(default_factory=lambda: np.empty(0))
    woe: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_regular(self) -> int:
        return len(self.labels) - len(self.specials) - 1

    @property
    def iv(self) -> float:
        """Information value: how far the bins' bad rates spread."""
        g, b = _shares(self.count, self.bads)
        return float(((g - b) * self.woe).sum())

    def bin_of(self, values: pd.Series) -> np.ndarray:
        """The bin index of every value (unseen text levels: the other bin, or missing's)."""
        n_reg = self.n_regular
        missing = values.isna().to_numpy()
        if self.kind == "numeric":
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            out = np.searchsorted(self.cuts, x, side="right")
            for i, v in enumerate(self.specials):
                out[x == v] = n_reg + i
        else:
            levels = pd.Index(self.levels)
            fallback = levels.get_loc(OTHER) if OTHER in levels else n_reg + len(self.specials)
            # One index lookup for the batch, not a dictionary lookup per row (nightly path).
            found = levels.get_indexer(values.astype(object).astype(str).to_numpy())
            out = np.where(found >= 0, found, fallback).astype(np.int64)
        out[missing] = n_reg + len(self.specials)
        return out

    def table(self) -> pd.DataFrame:
        """Per bin: label, count, bad rate, WoE and its share of the information value."""
        g, b = _shares(self.count, self.bads)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(self.count > 0, self.bads / self.count, np.nan)
        return pd.DataFrame(
            {
                "input": self.name,
                "bin": self.labels,
                "count": self.count.astype(np.int64),
                "bad_rate": rate,
                "woe": self.woe,
                "iv": (g - b) * self.woe,
            }
        )


def _shares(count: np.ndarray, bads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's share of the goods and of the bads (0.5 added to every count)."""
    goods = count - bads
    g = (goods + _SMOOTH) / (goods.sum() + _SMOOTH * len(goods))
    b = (bads + _SMOOTH) / (bads.sum() + _SMOOTH * len(goods))
    return g, b


def _woe(count: np.ndarray, bads: np.ndarray) -> np.ndarray:
    g, b = _shares(count, bads)
    return np.log(g / b)


def _monotone_fit(rate: np.ndarray, weight: np.ndarray, trend: str) -> tuple[np.ndarray, float]:
    """Bad rates made monotone in ``trend`` (weighted least squares) and the squared error."""
    if trend in ("ascending", "descending"):
        iso = IsotonicRegression(increasing=trend == "ascending")
        fit = iso.fit_transform(np.arange(len(rate)), rate, sample_weight=weight)
        return fit, float((weight * (fit - rate) ** 2).sum())
    first, second = ("ascending", "descending") if trend == "peak" else ("descending", "ascending")
    best = None
    for split in range(1, len(rate)):  # the turn sits between pre-bins split-1 and split
        left, e1 = _monotone_fit(rate[:split], weight[:split], first)
        right, e2 = _monotone_fit(rate[split:], weight[split:], second)
        if best is None or e1 + e2 < best[1]:
            best = (np.concatenate([left, right]), e1 + e2)
    if best is None:  # one pre-bin: nothing to order
        return rate.copy(), 0.0
    return best


def _auto_trend(rate: np.ndarray, weight: np.ndarray) -> str:
    """Ascending or descending, whichever monotone fit is closer to the pre-bins' rates."""
    up = _monotone_fit(rate, weight, "ascending")[1]
    down = _monotone_fit(rate, weight, "descending")[1]
    return "ascending" if up <= down else "descending"


def _merge_small(groups: list[list[int]], count: np.ndarray, bads: np.ndarray, minimum: float):
    """Merge bins under ``minimum`` rows into the neighbour with the closer bad rate.

    Merging two neighbours of a monotone sequence keeps it monotone: the merged rate lies
    between theirs.
    """
    while len(groups) > 1:
        sizes = np.array([count[g].sum() for g in groups])
        small = int(np.argmin(sizes))
        if sizes[small] >= minimum:
            break
        rates = np.array([bads[g].sum() / max(count[g].sum(), 1) for g in groups])
        if small == 0:
            other = 1
        elif small == len(groups) - 1:
            other = small - 1
        else:
            left, right = abs(rates[small - 1] - rates[small]), abs(rates[small + 1] - rates[small])
            other = small - 1 if left <= right else small + 1
        lo, hi = sorted((small, other))
        groups[lo : hi + 1] = [groups[lo] + groups[hi]]
    return groups


def _nice_cut(lo: float, hi: float) -> float:
    """The number with the fewest significant digits strictly between ``lo`` and ``hi``."""
    mid = (lo + hi) / 2
    for digits in range(-15, 18):
        q = round(mid, digits)
        if lo < q < hi:
            return float(q)
    return float(mid)


def _between_values(cuts: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Each cut moved to a short number strictly between the training values around it.

    No training value then sits on a cut, so an engine that reads values or cuts with a few
    digits less precision (PMML, SQL drivers) still puts every value in the same bin; and the
    card reads "< 1.5" rather than "< 1.0000000000000002".
    """
    # Values a few ulps apart (one ratio computed two ways) count as one value.
    seen = np.unique([float(f"{v:.12g}") for v in seen])
    out = cuts.copy()
    for i, cut in enumerate(cuts):
        above = np.searchsorted(seen, cut, side="left")  # first value >= cut
        if 0 < above < len(seen):
            out[i] = _nice_cut(seen[above - 1], seen[above])
    return out


def _number_label(lo: float, hi: float) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}"

    if np.isinf(lo):
        return f"< {fmt(hi)}"
    if np.isinf(hi):
        return f">= {fmt(lo)}"
    return f"[{fmt(lo)}, {fmt(hi)})"


class MonotoneWoE(TransformerMixin, BaseEstimator):
    """Bin every input with monotone bad rates and replace it by its bin's WoE.

    Parameters
    ----------
    categorical : list of str
        Text inputs (a bin per frequent level); the rest are numeric.
    trends : dict
        Input -> ``ascending``/``descending``/``peak``/``valley`` (or ``increasing``/
        ``decreasing``, risk rising or falling with the value); others are detected.
    special_values : dict
        Input -> numbers that get bins of their own (e.g. ``-1``: no account).
    max_bins : int
        Quantile pre-bins of a numeric input before monotone merging.
    min_bin_share : float
        The smallest bin, as a share of the training rows.
    min_iv : float
        Inputs with a lower information value are left out (0.02: "useless" by convention).
    """

    def __init__(
        self,
        categorical=(),
        trends=None,
        special_values=None,
        max_bins: int = 20,
        min_bin_share: float = 0.05,
        min_iv: float = 0.02,
    ):
        self.categorical = categorical
        self.trends = trends
        self.special_values = special_values
        self.max_bins = max_bins
        self.min_bin_share = min_bin_share
        self.min_iv = min_iv

    def fit(self, X: pd.DataFrame, y) -> MonotoneWoE:
        """Bin every column of ``X`` against the 0/1 target ``y``."""
        X = pd.DataFrame(X)
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) - {0, 1}:
            raise ValueError("the target must be 0/1 (1 = bad)")
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        minimum = max(1.0, self.min_bin_share * len(X))
        self.bins_: dict[str, ColumnBins] = {}
        self.notes_: list[str] = []
        for col in self.feature_names_in_:
            if col in set(self.categorical):
                bins = self._fit_text(col, X[col], y, minimum)
            else:
                bins = self._fit_number(col, X[col], y, minimum)
            self.bins_[col] = bins
        ivs = {c: b.iv for c, b in self.bins_.items()}
        kept = [c for c in self.feature_names_in_ if ivs[c] >= self.min_iv]
        if not kept:  # a model needs one input: the most telling, however weak
            kept = [max(ivs, key=ivs.get)]
        for col in self.feature_names_in_:
            if col not in kept:
                why = "one bin" if len(self.bins_[col].count) <= 1 else f"IV {ivs[col]:.3f}"
                self.notes_.append(f"{col}: left out of the scorecard ({why} < {self.min_iv})")
        self.kept_ = kept
        return self

    def _trend(self, col: str) -> str:
        given = (self.trends or {}).get(col, "auto")
        given = DIRECTIONS.get(given, given)
        if given not in TRENDS:
            raise ValueError(f"{col}: trend must be one of {', '.join(TRENDS)}, not {given!r}")
        return given

    def _fit_number(self, col: str, values: pd.Series, y: np.ndarray, minimum: float):
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        specials = sorted(float(v) for v in (self.special_values or {}).get(col, []))
        is_special = np.isin(x, specials) if specials else np.zeros(len(x), dtype=bool)
        missing = np.isnan(x)
        regular = ~missing & ~is_special
        xr, yr = x[regular], y[regular]
        if len(xr):
            qs = np.quantile(xr, np.linspace(0, 1, self.max_bins + 1)[1:-1])
            cuts = np.unique(qs)
            cuts = cuts[cuts > xr.min()]  # a cut at the minimum leaves an empty first bin
        else:
            cuts = np.empty(0)
        pre = np.searchsorted(cuts, xr, side="right")
        count = np.bincount(pre, minlength=len(cuts) + 1).astype(float)
        bads = np.bincount(pre, weights=yr, minlength=len(cuts) + 1)
        trend = self._trend(col)
        if len(cuts):
            rate = bads / np.maximum(count, 1)
            if trend == "auto":
                trend = _auto_trend(rate, count)
            fitted, _ = _monotone_fit(rate, count, trend)
            # Pre-bins the monotone fit pooled (equal fitted rates) become one bin.
            groups: list[list[int]] = [[0]]
            for k in range(1, len(fitted)):
                if np.isclose(fitted[k], fitted[k - 1], rtol=0, atol=1e-12):
                    groups[-1].append(k)
                else:
                    groups.append([k])
            groups = _merge_small(groups, count, bads, minimum)
            cuts = np.array([cuts[g[0] - 1] for g in groups[1:]], dtype=float)
            cuts = _between_values(cuts, np.unique(xr))
            # Counted again at the final cuts: the table states what bin_of will do.
            final = np.searchsorted(cuts, xr, side="right")
            count = np.bincount(final, minlength=len(cuts) + 1).astype(float)
            bads = np.bincount(final, weights=yr, minlength=len(cuts) + 1)
        elif trend == "auto":
            trend = "ascending"
        edges = np.concatenate([[-np.inf], cuts, [np.inf]])
        labels = [_number_label(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        for v in specials:
            labels.append(f"special {v:g}")
            count = np.append(count, (x == v).sum())
            bads = np.append(bads, y[x == v].sum())
        labels.append(MISSING)
        count = np.append(count, missing.sum())
        bads = np.append(bads, y[missing].sum())
        woe = _woe(count, bads)
        woe[count == 0] = 0.0  # never seen in training: neutral, neither safer nor riskier
        return ColumnBins(col, "numeric", trend, cuts, [], specials, labels, count, bads, woe)

    def _fit_text(self, col: str, values: pd.Series, y: np.ndarray, minimum: float):
        missing = values.isna().to_numpy()
        text = values.astype(object).where(~values.isna(), None)
        counts = pd.Series(text[~missing]).astype(str).value_counts()
        frequent = sorted(str(v) for v in counts.index[counts >= minimum])
        rare = counts.index[counts < minimum]
        as_text = np.array([str(v) for v in text.to_numpy()], dtype=object)
        levels = list(frequent)
        if len(rare) or not levels:
            levels.append(OTHER)
        index = {level: i for i, level in enumerate(levels)}
        other = index.get(OTHER)
        bin_ = np.array([index.get(v, other if other is not None else 0) for v in as_text])
        bin_[missing] = len(levels)
        count = np.bincount(bin_, minlength=len(levels) + 1).astype(float)
        bads = np.bincount(bin_, weights=y, minlength=len(levels) + 1)
        woe = _woe(count, bads)
        woe[count == 0] = 0.0
        labels = [*levels, MISSING]
        return ColumnBins(
            col, "categorical", "none", np.empty(0), levels, [], labels, count, bads, woe
        )

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The WoE of every kept input's bin, one column per kept input (in ``kept_`` order).

        An array, as the other families' last steps give: the regression then takes the
        explainer's and the scorer's arrays without a feature-name warning.
        """
        check_is_fitted(self, "bins_")
        X = pd.DataFrame(X)
        out = np.empty((len(X), len(self.kept_)))
        for j, c in enumerate(self.kept_):
            out[:, j] = self.bins_[c].woe[self.bins_[c].bin_of(X[c])]
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The kept inputs, in training order."""
        check_is_fitted(self, "bins_")
        return np.array(self.kept_, dtype=object)

    def set_output(self, *, transform=None):
        """Output is always an array (accepted for scikit-learn's pipelines)."""
        return self

    def table(self) -> pd.DataFrame:
        """Every kept input's bins: label, count, bad rate, WoE, IV share (one row a bin)."""
        check_is_fitted(self, "bins_")
        return pd.concat([self.bins_[c].table() for c in self.kept_], ignore_index=True)
