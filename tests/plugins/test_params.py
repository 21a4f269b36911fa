"""The cycle DAGs' ``actions`` Param: any registered generator, plug-ins included."""

from __future__ import annotations

import pytest
from airflow.sdk import ParamsDict
from airflow.sdk.definitions.param import ParamValidationError

from mlbudget.candidates import CandidateGenerator
from mlbudget_airflow.params import cycle_params


def test_actions_param_accepts_plugin_generators_and_refuses_unknown_names():
    class ParamPluginGenerator(CandidateGenerator):  # registers itself, as a plug-in's module would
        name = "test_param_plugin"

        def generate(self, parent, data, budget, out_dir):
            raise NotImplementedError  # never run: only its name is checked

    try:
        params = ParamsDict(cycle_params())
        params["actions"] = ["test_param_plugin", "distill"]
        params.validate()
        assert params["actions"] == ["test_param_plugin", "distill"]
        with pytest.raises(ParamValidationError, match="make_it_faster"):
            params["actions"] = ["make_it_faster"]
            params.validate()
    finally:
        del CandidateGenerator._registry["test_param_plugin"]
