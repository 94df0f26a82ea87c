"""Feature selection rules and the report they produce."""

import numpy as np
import pandas as pd

from delinq.features.selection import FeatureSelector, chi2_binned


def _data(n=2_000, seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal(n)
    y = (signal + 0.8 * rng.standard_normal(n) > 0.7).astype(int)
    X = pd.DataFrame(
        {
            "signal": signal,
            "signal_copy": signal * 2 + 1e-3 * rng.standard_normal(n),
            "noise": rng.standard_normal(n),
            "constant": np.ones(n),
            "weak": 0.3 * signal + rng.standard_normal(n),
        }
    )
    return X, y


def test_chi2_separates_signal_from_noise():
    X, y = _data()
    stat, p = chi2_binned(X.to_numpy(), y)
    assert p[0] < 1e-10 and p[2] > 0.001
    assert stat[3] == 0 and p[3] == 1  # constant column


def test_chi2_tests_a_rare_flag_level_by_level():
    # 5 % ones (below every interior decile), or 95 % ones: quantile bins would merge the levels.
    rng = np.random.default_rng(1)
    flag = (rng.random(5_000) < 0.05).astype(float)
    y = np.where(flag == 1, rng.random(5_000) < 0.6, rng.random(5_000) < 0.2).astype(int)
    stat, p = chi2_binned(np.column_stack([flag, 1 - flag, flag * 3 - 7]), y)
    assert np.all(p < 1e-20)
    np.testing.assert_allclose(stat, stat[0])


def test_rules_and_report():
    X, y = _data()
    sel = FeatureSelector().fit(X, y)
    report = sel.report_.set_index("feature")
    assert report.loc["signal", "kept"]
    assert report.loc["constant", "rule"] == "chi2"
    assert report.loc["noise", "rule"] in {"chi2", "importance"}
    # of the duplicated pair, one goes, naming the other as its partner
    dropped = report.loc[["signal", "signal_copy"]].query("rule == 'inter_corr'")
    assert len(dropped) == 1
    assert dropped["corr_partner"].iloc[0] in {"signal", "signal_copy"}
    assert list(sel.get_feature_names_out()) == report.index[report["kept"]].tolist()
    assert {"chi2", "chi2_p", "target_corr", "importance", "kept", "rule"} <= set(report.columns)


def test_never_drops_everything():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 3))
    y = rng.integers(0, 2, 300)
    sel = FeatureSelector(chi2_max_p=1e-12).fit(X, y)
    assert sel.support_.sum() >= 1


def test_rules_can_be_switched_off():
    X, y = _data()
    sel = FeatureSelector(chi2=False, pearson=False, tree_importance=False).fit(X, y)
    assert sel.support_.all()
