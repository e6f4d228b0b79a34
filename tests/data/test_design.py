"""Design and ExperimentDesign: roles normalised, bad configuration named clearly."""

import pytest

import causal
from causal import ConfigError, Design, ExperimentDesign, Mean, Ratio


def test_design_normalises_roles():
    d = Design(
        unit="pin_id",
        treatment="boosted",
        outcomes="saves",
        modifiers=["format"],
        confounders=["followers"],
    )
    assert d.outcomes == ("saves",)
    assert d.columns() == ("pin_id", "boosted", "saves", "format", "followers")
    assert d.to_dict()["modifiers"] == ["format"]
    with pytest.raises(AttributeError):
        d.unit = "x"  # frozen


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outcomes": []}, "at least one outcome"),
        ({"outcomes": ["saves"], "treatment_kind": "ordinal"}, "treatment_kind"),
        ({"outcomes": ["saves", 3]}, "outcomes"),
    ],
)
def test_design_bad_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Design(unit="u", treatment="t", **kwargs)


def test_experiment_design():
    e = ExperimentDesign(
        variant="arm",
        control="control",
        metrics=[
            Mean("saves", "saves", covariate="saves_pre"),
            Ratio("ctr", "clicks", "impressions"),
        ],
        expected_split={"control": 1, "treatment": 3},
    )
    assert e.expected_split == {"control": 0.25, "treatment": 0.75}
    assert e.columns() == ("arm", "saves", "saves_pre", "clicks", "impressions")
    with pytest.raises(ConfigError, match="unique"):
        ExperimentDesign(variant="arm", control="c", metrics=[Mean("a", "x"), Mean("a", "y")])
    with pytest.raises(ConfigError, match="pair"):
        Ratio("ctr", "clicks", "impressions", covariate=("clicks_pre",))


def test_errors_share_one_root():
    assert issubclass(causal.MissingColumnError, causal.CausalError)
    assert issubclass(causal.MissingColumnError, ValueError)
    assert issubclass(causal.NonNumericColumnError, TypeError)
