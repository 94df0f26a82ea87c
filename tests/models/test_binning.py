"""Monotone binning and WoE: bins follow their trend, odd columns get a note, not a crash."""

import numpy as np
import pandas as pd
import pytest

from delinq.models.binning import MISSING, OTHER, MonotoneWoE


def _book(n: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    late = rng.integers(-2, 9, n).astype(float)
    limit = rng.lognormal(11, 0.8, n)
    age = rng.integers(20, 70, n).astype(float)
    age[rng.random(n) < 0.1] = np.nan
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.25, 0.05])
    logit = -1.5 + 0.45 * np.clip(late, 0, None) - 0.5 * (np.log(limit) - 11)
    logit += 0.002 * (np.nan_to_num(age, nan=45) - 45) ** 2 + (region == "west") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"late": late, "limit": limit, "age": age, "region": region})
    frame["region"] = frame["region"].astype(object)
    return frame, y


def _rates(woe: MonotoneWoE, col: str) -> np.ndarray:
    bins = woe.bins_[col]
    n = bins.n_regular
    return bins.bads[:n] / bins.count[:n]


def test_bins_follow_the_detected_direction():
    X, y = _book()
    woe = MonotoneWoE(categorical=["region"]).fit(X, y)
    assert woe.bins_["late"].trend == "ascending"
    assert woe.bins_["limit"].trend == "descending"
    assert np.all(np.diff(_rates(woe, "late")) > 0)
    assert np.all(np.diff(_rates(woe, "limit")) < 0)
    assert len(woe.bins_["late"].cuts) >= 3  # monotone, not collapsed into one bin


def test_a_declared_valley_is_honoured_and_missing_has_its_own_bin():
    X, y = _book()
    woe = MonotoneWoE(categorical=["region"], trends={"age": "valley"}).fit(X, y)
    rates = _rates(woe, "age")
    turn = int(np.argmin(rates))
    assert np.all(np.diff(rates[: turn + 1]) <= 0) and np.all(np.diff(rates[turn:]) >= 0)
    assert 0 < turn < len(rates) - 1
    bins = woe.bins_["age"]
    assert bins.labels[-1] == MISSING and bins.count[-1] == X["age"].isna().sum()


def test_every_bin_holds_the_minimum_share_and_woe_is_finite():
    X, y = _book()
    woe = MonotoneWoE(categorical=["region"], min_bin_share=0.1).fit(X, y)
    for col in ("late", "limit"):
        bins = woe.bins_[col]
        assert bins.count[: bins.n_regular].min() >= 0.1 * len(X)
    out = woe.transform(X)
    assert np.isfinite(out).all() and out.shape == (len(X), len(woe.kept_))
    assert list(woe.get_feature_names_out()) == woe.kept_


def test_special_values_and_unseen_levels():
    X, y = _book()
    woe = MonotoneWoE(categorical=["region"], special_values={"late": [-2]}).fit(X, y)
    bins = woe.bins_["late"]
    assert "special -2" in bins.labels
    special = bins.labels.index("special -2")
    assert (bins.bin_of(pd.Series([-2.0, np.nan])) == [special, len(bins.labels) - 1]).all()
    # A level never seen in training scores as the rare-levels bin (west is 5 %: kept)
    region = woe.bins_["region"]
    new = region.bin_of(pd.Series(["mars"], dtype=object))[0]
    assert region.labels[new] in (OTHER, MISSING)


def test_degenerate_columns_get_a_note_not_a_crash():
    X, y = _book(2_000)
    X["constant"] = 1.0
    X["all_missing"] = np.nan
    rng = np.random.default_rng(1)
    X["many_levels"] = pd.Series([f"L{i}" for i in rng.integers(0, 200, len(X))], dtype=object)
    woe = MonotoneWoE(categorical=["region", "many_levels"]).fit(X, y)
    left_out = " ".join(woe.notes_)
    assert "constant" in left_out and "all_missing" in left_out
    assert "constant" not in woe.kept_
    levels = woe.bins_["many_levels"]
    assert len(levels.labels) <= 21  # 200 levels of ~10 rows each: all rare, one bin
    assert np.isfinite(woe.transform(X)).all()


def test_a_non_binary_target_is_refused():
    X, _ = _book(200)
    with pytest.raises(ValueError, match="0/1"):
        MonotoneWoE().fit(X[["late"]], np.arange(200) % 3)
