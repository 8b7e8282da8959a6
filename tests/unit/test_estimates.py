"""A cost estimate's sentence never reads as free when a price is unknown."""

from core.estimates import CostEstimate, CostItem


def test_an_estimate_whose_prices_are_all_unknown_says_so_and_names_no_amount():
    estimate = CostEstimate((CostItem("training", None), CostItem("storage", None)))
    assert estimate.sentence() == "Price unknown (training price unknown; storage price unknown)."
    assert "$" not in estimate.sentence()


def test_a_partly_known_estimate_is_a_lower_bound_and_a_known_one_is_about():
    partly = CostEstimate((CostItem("labelling", 0.5), CostItem("training", None)))
    assert partly.sentence().startswith("At least $0.5000 (")
    known = CostEstimate((CostItem("labelling", 0.5), CostItem("judge", 1.25)))
    assert known.sentence() == "About $1.75 (labelling $0.5000; judge $1.25)."
