"""A registered model's files are checked against their registration digest before loading."""

from __future__ import annotations

import os

import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.train.job import train
from tests.conftest import one_family_config

pytestmark = pytest.mark.slow


def test_changed_model_files_are_never_unpickled_nor_promoted(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = one_family_config(tmp_path, "logreg")
    first = train(cfg, load_training_data(cfg))
    manual = one_family_config(tmp_path, "logreg", auto=False)
    second = train(manual, load_training_data(manual))
    name = cfg.tracking.model_name
    assert len(tracking.version_tag(name, second.version, tracking.FILES_TAG)) == 64
    load_registered(f"models:/{name}/{second.version}")  # intact: loads

    before = {p: p.read_bytes() for p in (tmp_path / "mlflow").rglob("model.pkl")}
    assert len(before) == 2
    for path, data in before.items():
        path.write_bytes(data + b"\x00")  # what a tampered artifact store holds

    for version in (first.version, second.version):
        with pytest.raises(tracking.TrackingError, match="checksum mismatch"):
            load_registered(f"models:/{name}/{version}")
    with pytest.raises(tracking.TrackingError, match="checksum mismatch"):
        promote(manual)
    assert tracking.alias_version(name, tracking.CHAMPION) == first.version
