"""Fixtures: the foreign models of :mod:`tests.adoption.foreign_models`, built once per session."""

from __future__ import annotations

import pytest

from tests.adoption.foreign_models import (
    SK_NUMERIC,
    Foreign,
    _breast_cancer,
    build_gbr,
    build_sk_pipeline,
    build_torch_two,
    foreign_budget,
    request_log,
)

__all__ = ["SK_NUMERIC", "Foreign", "_breast_cancer", "foreign_budget", "request_log"]


@pytest.fixture(scope="session")
def sk_pipeline(tmp_path_factory) -> Foreign:
    return build_sk_pipeline(tmp_path_factory.mktemp("sk_pipeline"))


@pytest.fixture(scope="session")
def gbr(tmp_path_factory) -> Foreign:
    return build_gbr(tmp_path_factory.mktemp("gbr"))


@pytest.fixture(scope="session")
def torch_two(tmp_path_factory) -> Foreign:
    return build_torch_two(tmp_path_factory.mktemp("torch_two"))


@pytest.fixture(scope="session")
def make_budget():
    """``make_budget(name, accuracy, **extra)``: a small budget for a foreign model."""
    return foreign_budget


@pytest.fixture(scope="session")
def write_request_log():
    """``write_request_log(foreign, bundle_dir, log_dir, window_end)`` (see :func:`request_log`)."""
    return request_log
