"""parse_router_output: every accepted and rejected form of docs/ARCHITECTURE.md, and it never raises."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.parsing import parse_router_output, round_weights
from core.schema import MODALITIES

CLEAN = '{"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1, "reasoning": "dog seen and heard"}'


def weights_of(outcome):
    return outcome.decision.weights()


ACCEPTED = {
    "clean JSON": (CLEAN, {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1}),
    "code fence": (f"```json\n{CLEAN}\n```", {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1}),
    "bare code fence": (f"```\n{CLEAN}\n```", {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1}),
    "prose around": (
        f"Sure! Here are the weights for your query:\n{CLEAN}\nLet me know if you need anything else.",
        {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1},
    ),
    # The undistilled Nova Micro's nestings quoted in docs/ARCHITECTURE.md (published reference points).
    "nested under video": (
        '{"video": {"visual": 0.2, "audio": 0.1, "transcription": 0.6, "metadata": 0.1, "reasoning": "speech"}}',
        {"visual": 0.2, "audio": 0.1, "transcription": 0.6, "metadata": 0.1},
    ),
    "nested in results list": (
        '{"query": "sunset over mountains", "results": [{"visual": 0.8, "audio": 0, "transcription": 0, '
        '"metadata": 0.2, "reasoning": "scenery"}]}',
        {"visual": 0.8, "audio": 0.0, "transcription": 0.0, "metadata": 0.2},
    ),
    "numbers as strings": (
        '{"visual": "0.2", "audio": "0.3", "transcription": "0.4", "metadata": "0.1", "reasoning": "x"}',
        {"visual": 0.2, "audio": 0.3, "transcription": 0.4, "metadata": 0.1},
    ),
    "percentages summing to 100": (
        '{"visual": 60, "audio": 30, "transcription": 0, "metadata": 10, "reasoning": "x"}',
        {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1},
    ),
    "percent strings": (
        '{"visual": "60%", "audio": "30%", "transcription": "0%", "metadata": "10%", "reasoning": "x"}',
        {"visual": 0.6, "audio": 0.3, "transcription": 0.0, "metadata": 0.1},
    ),
    "keys in other case": (
        '{"Visual": 0.25, "AUDIO": 0.25, "Transcription": 0.25, "metadata": 0.25, "reasoning": "x"}',
        {m: 0.25 for m in MODALITIES},
    ),
    "top-level list": (
        '[{"visual": 0.9, "audio": 0.0, "transcription": 0.0, "metadata": 0.1, "reasoning": "x"}]',
        {"visual": 0.9, "audio": 0.0, "transcription": 0.0, "metadata": 0.1},
    ),
    "an already-decoded object": (
        {"visual": 0.5, "audio": 0.5, "transcription": 0, "metadata": 0, "reasoning": "x"},
        {"visual": 0.5, "audio": 0.5, "transcription": 0.0, "metadata": 0.0},
    ),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_forms_give_the_intended_weights(name):
    reply, expected = ACCEPTED[name]
    outcome = parse_router_output(reply)
    assert outcome.valid, outcome.errors
    for modality, weight in expected.items():
        assert weights_of(outcome)[modality] == pytest.approx(weight)


REJECTED = {
    "prose only": ("I think this query is mostly about visuals.", "no JSON object"),
    "empty string": ("", "no JSON object"),
    "JSON without weights": ('{"answer": "visual"}', "no JSON object with router weights"),
    "missing modality": ('{"visual": 0.5, "audio": 0.5, "transcription": 0.0}', "missing modality: metadata"),
    "negative weight": ('{"visual": 1.2, "audio": -0.2, "transcription": 0, "metadata": 0}', "negative"),
    "non-numeric weight": ('{"visual": "high", "audio": "low", "transcription": 0, "metadata": 0}', "not a number"),
    "null weight": ('{"visual": null, "audio": 1, "transcription": 0, "metadata": 0}', "not a number"),
    "boolean weight": ('{"visual": true, "audio": 0, "transcription": 0, "metadata": 0}', "not a number"),
    "infinite weight": ('{"visual": Infinity, "audio": 0, "transcription": 0, "metadata": 0}', "not finite"),
    "NaN weight": ('{"visual": NaN, "audio": 0, "transcription": 0, "metadata": 0}', "not finite"),
    "all zero": ('{"visual": 0, "audio": 0, "transcription": 0, "metadata": 0}', "all weights are zero"),
    "not text": (42, "expected text or a JSON object"),
}


@pytest.mark.parametrize("name", REJECTED)
def test_rejected_forms_say_why(name):
    reply, reason = REJECTED[name]
    outcome = parse_router_output(reply)
    assert not outcome.valid
    assert outcome.decision is None
    assert any(reason in error for error in outcome.errors), outcome.errors


def test_sum_off_by_more_than_a_hundredth_is_renormalised_with_a_warning():
    outcome = parse_router_output('{"visual": 0.6, "audio": 0.6, "transcription": 0, "metadata": 0, "reasoning": "x"}')
    assert outcome.valid
    assert weights_of(outcome)["visual"] == pytest.approx(0.5)
    assert any("renormalised" in w for w in outcome.warnings)


def test_sum_within_a_hundredth_is_not_flagged():
    outcome = parse_router_output(
        '{"visual": 0.6, "audio": 0.305, "transcription": 0, "metadata": 0.1, "reasoning": "x"}'
    )
    assert outcome.valid
    assert not any("renormalised" in w for w in outcome.warnings)
    assert math.fsum(weights_of(outcome).values()) == pytest.approx(1.0)


def test_nesting_and_missing_reasoning_are_recorded_as_warnings():
    outcome = parse_router_output('{"video": {"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}}')
    assert outcome.valid
    assert any("nested under 'video'" in w for w in outcome.warnings)
    assert any("no reasoning" in w for w in outcome.warnings)


def test_a_later_valid_object_is_used_when_an_earlier_one_is_not_router_output():
    text = 'Query: {"q": "dog"} Answer: ' + CLEAN
    outcome = parse_router_output(text)
    assert outcome.valid
    assert weights_of(outcome)["visual"] == pytest.approx(0.6)


def test_reasoning_keeps_model_text_verbatim():
    outcome = parse_router_output(
        '{"visual": 1, "audio": 0, "transcription": 0, "metadata": 0, "reasoning": "<b>bold</b> claim"}'
    )
    assert outcome.decision.reasoning == "<b>bold</b> claim"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from([*MODALITIES, "reasoning", "video", "results", "x"]) | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text):
    outcome = parse_router_output(text)
    assert outcome.valid == (outcome.decision is not None)
    assert outcome.valid or outcome.errors


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_like_objects_never_raise_as_objects_or_as_text(value):
    for reply in (value, json.dumps(value, allow_nan=True), f"prose {json.dumps(value)} more prose"):
        outcome = parse_router_output(reply)
        if outcome.valid:
            weights = outcome.decision.weights()
            assert all(0.0 <= w <= 1.0 for w in weights.values())
            assert math.fsum(weights.values()) == pytest.approx(1.0)
        else:
            assert outcome.errors


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=4, max_size=4).filter(
        lambda ws: sum(ws) > 1e-6
    )
)
def test_rounding_gives_multiples_of_a_twentieth_summing_to_exactly_one(raw):
    total = sum(raw)
    rounded = round_weights(dict(zip(MODALITIES, (w / total for w in raw), strict=True)))
    steps = [rounded[m] * 20 for m in MODALITIES]
    assert all(abs(s - round(s)) < 1e-9 for s in steps)
    assert sum(round(s) for s in steps) == 20
    assert math.fsum(rounded.values()) == 1.0
    for m, w in zip(MODALITIES, raw, strict=True):
        assert abs(rounded[m] - w / total) < 0.05 + 1e-9


def test_rounding_matches_published_examples():
    assert round_weights({"visual": 0.62, "audio": 0.28, "transcription": 0.0, "metadata": 0.10}) == {
        "visual": 0.6,
        "audio": 0.3,
        "transcription": 0.0,
        "metadata": 0.1,
    }
    assert round_weights({m: 0.25 for m in MODALITIES}) == {m: 0.25 for m in MODALITIES}
    assert round_weights({"visual": 1 / 3, "audio": 1 / 3, "transcription": 1 / 3, "metadata": 0.0}) == {
        "visual": 0.35,
        "audio": 0.35,
        "transcription": 0.3,
        "metadata": 0.0,
    }
