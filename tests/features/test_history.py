"""Payment-history features on hand-computed histories."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from delinq.features.history import PaymentHistoryFeatures, dpd_bucket


def _features(status, balance=None, payment=None, limit=None):
    status = np.atleast_2d(np.asarray(status, dtype=float))
    parts = [status]
    n = status.shape[1]
    kwargs = {"n_status": n}
    if balance is not None:
        parts.append(np.atleast_2d(np.asarray(balance, dtype=float)))
        kwargs["n_balance"] = n
    if payment is not None:
        parts.append(np.atleast_2d(np.asarray(payment, dtype=float)))
        kwargs["n_payment"] = n
    if limit is not None:
        parts.append(np.asarray(limit, dtype=float).reshape(-1, 1))
        kwargs["has_limit"] = True
    X = np.hstack(parts)
    t = PaymentHistoryFeatures(**kwargs).fit(X)
    return dict(zip(t.get_feature_names_out(), t.transform(X)[0], strict=True))


def test_bucket_boundaries_in_months_and_days():
    assert dpd_bucket([-2, -1, 0, 1, 2, 3, 4, 8]).tolist() == [0, 0, 0, 1, 2, 3, 4, 4]
    days = [0, 1, 30, 31, 60, 61, 90, 91, 400]
    assert dpd_bucket(days, unit="days").tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4]


@given(st.lists(st.integers(-2, 9), min_size=2, max_size=40))
def test_bucket_never_decreases_with_lateness(statuses):
    s = np.sort(np.asarray(statuses))
    assert np.all(np.diff(dpd_bucket(s)) >= 0)


def test_status_features_by_hand():
    # newest first: 2 months late now, 1 month last month, then current, then late 3 months ago
    f = _features([2, 1, 0, 1, -1, -2])
    assert f["dpd_bucket"] == 2
    assert f["worst_bucket_3m"] == 2
    assert f["worst_bucket_all"] == 2
    assert f["months_delinquent"] == 3
    assert f["consecutive_delinquent"] == 2
    assert f["months_since_delinquent"] == 0
    assert f["roll_forward"] == 1
    assert f["cure"] == 0
    assert f["status_trend"] > 0  # getting worse lately


def test_cure_and_never_late():
    cured = _features([0, 2, 2, 0, 0, 0])
    assert cured["cure"] == 1 and cured["roll_forward"] == 0
    assert cured["months_since_delinquent"] == 1
    assert cured["consecutive_delinquent"] == 0
    clean = _features([-1, -1, 0, 0, -2, -2])
    assert clean["months_delinquent"] == 0
    assert clean["months_since_delinquent"] == 7  # never late in 6 months: history + 1


def test_utilisation_payment_ratio_and_change():
    f = _features(
        [0, 0, 0],
        balance=[500, 1000, 2000],
        payment=[0, 100, 300],
        limit=[1000],
    )
    assert f["util_latest"] == pytest.approx(0.5)
    assert f["util_mean"] == pytest.approx((0.5 + 1.0 + 2.0) / 3)
    assert f["util_max"] == pytest.approx(2.0)
    assert f["util_trend"] == pytest.approx(0.5 - 2.0)
    # payment i settles statement i+1
    assert f["pay_ratio_latest"] == pytest.approx(0 / 1000)
    assert f["pay_ratio_mean"] == pytest.approx((0 / 1000 + 100 / 2000) / 2)
    assert f["pay_ratio_min"] == pytest.approx(0.0)
    assert f["pay_ratio_max"] == pytest.approx(100 / 2000)
    assert f["repaid_share"] == pytest.approx((0 + 100) / (1000 + 2000))
    assert f["months_no_payment"] == 1  # owed 1000, paid 0
    assert f["pay_to_limit"] == pytest.approx(0 / 1000)
    assert f["pay_change"] == pytest.approx(np.log1p(0) - np.log1p(200))
    assert f["balance_trend"] == pytest.approx((500 - 2000) / np.mean([500, 1000, 2000]))


def test_month_by_month_detail_by_hand():
    f = _features(
        [2, -1, 0, 1],
        balance=[500, 1000, 2000, np.nan],
        payment=[0, 100, 300, 50],
        limit=[1000],
    )
    assert f["status_mean"] == pytest.approx((2 - 1 + 0 + 1) / 4)
    assert f["status_max"] == 2
    # a missing balance counts as 0, as in the summaries
    assert f["balance_mean"] == pytest.approx(3500 / 4)
    assert f["balance_std"] == pytest.approx(np.std([500, 1000, 2000, 0]))
    assert [f[f"balance_change_{i}"] for i in range(3)] == [-500, -1000, 2000]
    assert [f[f"headroom_{i}"] for i in range(4)] == [500, 0, -1000, 1000]
    assert f["payment_mean"] == pytest.approx(450 / 4)
    assert f["payment_std"] == pytest.approx(np.std([0, 100, 300, 50]))
    # paid 1 / statement 2, paid 2 / statement 3 (nothing owed: ratio 1); month 0 is
    # pay_ratio_latest
    assert f["pay_ratio_1"] == pytest.approx(100 / 2000)
    assert f["pay_ratio_2"] == pytest.approx(1.0)
    assert "pay_ratio_0" not in f and "pay_ratio_3" not in f


def test_detail_follows_the_layout_and_can_be_switched_off():
    X = np.zeros((3, 7))  # 3 status months, 3 balances, a limit; no payments
    names = PaymentHistoryFeatures(n_status=3, n_balance=3, has_limit=True).fit(X)
    detail = [n for n in names.get_feature_names_out() if n not in _features([0, 0, 0])]
    assert "headroom_2" in detail and "balance_change_1" in detail
    assert not any(n.startswith(("payment_", "pay_ratio")) for n in detail)
    off = PaymentHistoryFeatures(n_status=3, n_balance=3, has_limit=True, detail=False).fit(X)
    summaries = set(off.get_feature_names_out())
    assert not summaries & {"status_mean", "balance_mean", "headroom_0", "balance_change_0"}
    np.testing.assert_array_equal(off.transform(X), names.transform(X)[:, : len(summaries)])


def test_edge_cases_never_leak_nan_or_inf():
    X = np.array(
        [
            # all missing history, zero limit
            [np.nan] * 3 + [np.nan] * 3 + [np.nan] * 3 + [0.0],
            # zero balances and payments
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0],
            # negative (credit) balances
            [1, 0, 0, -50, -10, 0, 5, 0, 0, 100.0],
        ]
    )
    t = PaymentHistoryFeatures(n_status=3, n_balance=3, n_payment=3, has_limit=True).fit(X)
    out = t.transform(X)
    assert np.isfinite(out).all()


def test_layout_errors_are_clear():
    with pytest.raises(ValueError, match="expected 7 history columns"):
        PaymentHistoryFeatures(n_status=3, n_balance=3, has_limit=True).fit(np.zeros((4, 6)))
    with pytest.raises(ValueError, match="at least 2 status months"):
        PaymentHistoryFeatures(n_status=1).fit(np.zeros((4, 2)))
