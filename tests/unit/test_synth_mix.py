"""The data mix: share groups that add up, Bedrock's size limits, CLI parsing, slider rebalancing, exact counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.synth.mix import (
    CUSTOM_DOMAIN,
    DIFFICULTIES,
    DOMAINS,
    FOCI,
    MAX_TOTAL,
    MIN_TOTAL,
    DataMix,
    allocate,
    rebalance,
)


def test_defaults_are_valid_and_balanced_over_the_four_modalities():
    mix = DataMix()
    assert set(mix.focus) == set(FOCI)
    assert mix.focus["visual"] == mix.focus["audio"] == mix.focus["transcription"] == mix.focus["metadata"]
    assert 0 < mix.focus["mixed"] < mix.focus["visual"]
    assert list(mix.difficulty) == list(DIFFICULTIES)
    assert mix.domain == pytest.approx({domain: 0.1 for domain in DOMAINS})
    for shares in mix.groups().values():
        assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("total", [MIN_TOTAL, 5_000, MAX_TOTAL])
def test_totals_within_bedrock_limits_are_accepted(total):
    assert DataMix(total=total).total == total


@pytest.mark.parametrize("total", [0, MIN_TOTAL - 1, MAX_TOTAL + 1])
def test_totals_outside_bedrock_limits_are_rejected(total):
    with pytest.raises(ValidationError):
        DataMix(total=total)


def test_a_group_that_does_not_add_up_names_the_group_and_its_sum():
    with pytest.raises(ValidationError) as error:
        DataMix(focus={"visual": 0.5, "audio": 0.4})
    message = str(error.value)
    assert "focus shares must add up to 1.0" in message
    assert "0.9" in message and "90.00%" in message


def test_difficulty_group_error_is_named_too():
    with pytest.raises(ValidationError, match="difficulty shares must add up to 1.0"):
        DataMix(difficulty={"easy": 0.7, "medium": 0.7})


def test_keys_left_out_count_as_zero_and_come_back_in_canonical_order():
    mix = DataMix(focus={"audio": 0.5, "visual": 0.5})
    assert list(mix.focus) == list(FOCI)
    assert mix.focus == {"visual": 0.5, "audio": 0.5, "transcription": 0.0, "metadata": 0.0, "mixed": 0.0}


def test_a_sum_within_the_tolerance_is_accepted():
    DataMix(difficulty={"easy": 0.35, "medium": 0.35, "hard": 0.2, "edge": 0.1 + 5e-7})


@pytest.mark.parametrize(
    "focus", [{"visual": 1.0, "smell": 0.0}, {"visual": 1.5, "audio": -0.5}, {"visual": float("nan"), "audio": 1.0}]
)
def test_unknown_keys_and_out_of_range_shares_are_rejected(focus):
    with pytest.raises(ValidationError):
        DataMix(focus=focus)


def test_custom_terms_add_a_custom_domain_with_an_equal_default_share():
    mix = DataMix(custom_vocabulary=["Acme RoboVac", "zeppelin"])
    assert list(mix.domain) == list(DOMAINS) + [CUSTOM_DOMAIN]
    assert mix.domain[CUSTOM_DOMAIN] == pytest.approx(1 / 11)


def test_custom_terms_are_trimmed_and_deduplicated():
    mix = DataMix(custom_vocabulary=["  Acme   RoboVac ", "acme robovac", "", "  ", "zeppelin"])
    assert mix.custom_vocabulary == ["Acme RoboVac", "zeppelin"]


def test_a_custom_share_without_custom_terms_is_rejected():
    domain = {domain: 0.05 for domain in DOMAINS} | {CUSTOM_DOMAIN: 0.5}
    with pytest.raises(ValidationError, match="custom domain needs custom_vocabulary"):
        DataMix(domain=domain)


def test_a_custom_term_that_would_break_nova_training_data_is_rejected():
    with pytest.raises(ValidationError, match="Assistant:"):
        DataMix(custom_vocabulary=["Assistant: say hi"])


def test_with_share_moves_one_slider_and_keeps_the_group_at_100_percent():
    mix = DataMix().with_share("focus", "visual", 0.5)
    assert mix.focus["visual"] == 0.5
    assert sum(mix.focus.values()) == pytest.approx(1.0)
    assert mix.focus["audio"] == mix.focus["transcription"] == mix.focus["metadata"]


def test_a_mix_survives_a_round_trip_through_a_manifest():
    mix = DataMix(total=2_500, seed=4, custom_vocabulary=["Acme RoboVac"], focus={"visual": 0.6, "audio": 0.4})
    assert DataMix.model_validate_json(mix.model_dump_json()) == mix


def test_counts_are_exact_per_group():
    mix = DataMix(total=1_234)
    for group, counts in mix.counts().items():
        assert sum(counts.values()) == 1_234, group


class TestFromCli:
    def test_a_full_focus_group(self):
        mix = DataMix.from_cli("visual=.25,audio=.25,transcription=.25,metadata=.25", 2_000, 3)
        assert (mix.total, mix.seed) == (2_000, 3)
        assert mix.focus == {"visual": 0.25, "audio": 0.25, "transcription": 0.25, "metadata": 0.25, "mixed": 0.0}
        assert mix.difficulty == DataMix().difficulty

    def test_focus_keys_without_mixed_mean_no_mixed_queries(self):
        mix = DataMix.from_cli("visual=.5,audio=.5", 500, 1)
        assert mix.focus["mixed"] == 0.0
        assert mix.focus["metadata"] == 0.0

    def test_groups_can_be_combined_and_written_as_percentages(self):
        mix = DataMix.from_cli(" easy=50%, medium = 50% , cooking=1 ", 500, 1)
        assert mix.difficulty == {"easy": 0.5, "medium": 0.5, "hard": 0.0, "edge": 0.0}
        assert mix.domain["cooking"] == 1.0
        assert mix.focus == DataMix().focus

    def test_an_empty_spec_keeps_every_default(self):
        mix = DataMix.from_cli("", 300, 9)
        assert mix.groups() == DataMix().groups()

    def test_custom_terms_can_be_passed(self):
        mix = DataMix.from_cli("custom=1", 300, 9, ["Acme RoboVac"])
        assert mix.domain[CUSTOM_DOMAIN] == 1.0

    def test_an_incomplete_group_is_an_error_naming_it(self):
        with pytest.raises(ValueError, match="focus shares must add up to 1.0"):
            DataMix.from_cli("visual=.3,audio=.3", 500, 1)

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("smell=1", "unknown mix key 'smell'"),
            ("visual", "is not key=value"),
            ("visual=lots", "not a number"),
            ("visual=.5,visual=.5", "given twice"),
            ("visual=inf", "not a finite number"),
        ],
    )
    def test_malformed_specs_say_what_is_wrong(self, spec, message):
        with pytest.raises(ValueError, match=message):
            DataMix.from_cli(spec, 500, 1)

    def test_n_outside_the_limits_is_rejected(self):
        with pytest.raises(ValueError):
            DataMix.from_cli("", 50, 1)


class TestRebalance:
    def test_others_scale_in_proportion(self):
        shares = rebalance({"a": 0.5, "b": 0.3, "c": 0.2}, "a", 0.0)
        assert shares == {"a": 0.0, "b": 0.6, "c": 0.4}

    def test_when_the_others_are_all_zero_they_share_the_rest_equally(self):
        assert rebalance({"a": 1.0, "b": 0.0, "c": 0.0}, "a", 0.6) == {"a": 0.6, "b": 0.2, "c": 0.2}

    def test_values_are_clamped_to_0_and_1(self):
        assert rebalance({"a": 0.5, "b": 0.5}, "a", 1.7) == {"a": 1.0, "b": 0.0}
        assert rebalance({"a": 0.5, "b": 0.5}, "a", -0.2) == {"a": 0.0, "b": 1.0}

    def test_a_single_key_is_always_100_percent(self):
        assert rebalance({"a": 1.0}, "a", 0.3) == {"a": 1.0}

    def test_an_unknown_key_is_an_error(self):
        with pytest.raises(ValueError, match="unknown key"):
            rebalance({"a": 1.0}, "b", 0.3)

    @settings(max_examples=200, deadline=None)
    @given(
        shares=st.lists(st.floats(0, 1), min_size=2, max_size=11), index=st.integers(0, 10), value=st.floats(-0.5, 1.5)
    )
    def test_any_slider_move_keeps_exactly_100_percent_in_whole_steps(self, shares, index, value):
        keyed = {f"k{i}": share for i, share in enumerate(shares)}
        key = f"k{index % len(shares)}"
        result = rebalance(keyed, key, value)
        assert list(result) == list(keyed)
        assert round(sum(result.values()) * 100) == 100
        assert abs(sum(result.values()) - 1.0) < 1e-6
        assert all(round(v * 100, 6).is_integer() and 0 <= v <= 1 for v in result.values())
        assert result[key] == pytest.approx(min(max(round(value * 100), 0), 100) / 100)


class TestAllocate:
    def test_largest_remainder_goes_to_the_earlier_key_on_ties(self):
        assert allocate({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 100) == {"a": 34, "b": 33, "c": 33}

    def test_largest_remainder_beats_order(self):
        assert allocate({"a": 0.114, "b": 0.886}, 10) == {"a": 1, "b": 9}
        assert allocate({"a": 0.05, "b": 0.16, "c": 0.79}, 10) == {"a": 0, "b": 2, "c": 8}

    def test_zero_shares_get_nothing_and_zero_total_gives_zeros(self):
        assert allocate({"a": 0.0, "b": 1.0}, 7) == {"a": 0, "b": 7}
        assert allocate({"a": 0.5, "b": 0.5}, 0) == {"a": 0, "b": 0}

    @settings(max_examples=200, deadline=None)
    @given(
        shares=st.lists(st.floats(0, 1), min_size=1, max_size=11).filter(lambda s: sum(s) > 0), n=st.integers(0, 15_000)
    )
    def test_counts_always_add_up_and_stay_within_one_of_the_exact_share(self, shares, n):
        keyed = {f"k{i}": share for i, share in enumerate(shares)}
        counts = allocate(keyed, n)
        assert sum(counts.values()) == n
        total = sum(shares)
        for key, share in keyed.items():
            assert abs(counts[key] - share / total * n) < 1 + 1e-9

    @pytest.mark.parametrize(("shares", "n"), [({}, 5), ({"a": 0.0}, 5), ({"a": -1.0, "b": 2.0}, 5), ({"a": 1.0}, -1)])
    def test_impossible_allocations_are_rejected(self, shares, n):
        with pytest.raises(ValueError):
            allocate(shares, n)


def test_a_negative_seed_is_refused_because_it_would_repeat_the_positive_one():
    with pytest.raises(ValueError, match="seed"):
        DataMix(total=100, seed=-1)
