"""Reaching the fitted pipeline inside the wrappers a champion comes in."""

from __future__ import annotations

from sklearn.pipeline import Pipeline


def fitted_pipeline(estimator) -> Pipeline:
    """The fitted pipeline inside a search, a calibration or a raw-input wrapper."""
    if hasattr(estimator, "best_estimator_"):
        return estimator.best_estimator_
    if hasattr(estimator, "estimator_"):
        return fitted_pipeline(estimator.estimator_)
    return estimator


def model_space(model) -> Pipeline:
    """The fitted steps that turn raw rows into model columns (resampling is fit-time only)."""
    steps = fitted_pipeline(model).steps[:-1]
    return Pipeline([(name, step) for name, step in steps if not hasattr(step, "fit_resample")])
