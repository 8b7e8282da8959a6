"""search-eval's figures: every router and baseline, per focus, and invalid replies searched with uniform weights."""

from collections.abc import Sequence

import pytest

from core.routers.base import Router, RouterReply
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.search.engine import SearchIndex
from core.search.evaluation import baseline_figures, evaluate_search, judged_weights, search_judged, weights_figures
from core.search.fusion import FUSION_METHODS
from core.search.metrics import METRIC_NAMES
from core.search.sample import CatalogSpec, generate_catalog


class BrokenRouter(Router):
    """Replies prose with no JSON: every reply is invalid."""

    router_id = "broken"

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text="I think visual matters most.") for _ in queries]


@pytest.fixture(scope="module")
def small():
    sample = generate_catalog.__wrapped__(CatalogSpec(segments=400, queries=60))
    return sample, SearchIndex.build(sample.catalog)


@pytest.fixture(scope="module")
def figures(small):
    sample, index = small
    routers = {"teacher": ReferenceTeacher(), "uniform": UniformRouter(), "broken": BrokenRouter()}
    return evaluate_search(index, sample.judgements, routers)


def test_the_figures_have_the_contract_shape(figures):
    assert figures["segments"] == 400 and figures["queries"] == 60
    assert set(figures["routers"]) == {"teacher", "uniform", "broken"}
    assert set(figures["baselines"]) == {
        "uniform",
        "visual_only",
        "audio_only",
        "transcription_only",
        "metadata_only",
        "combined_index",
        "oracle",
    }
    for entry in [*figures["routers"].values(), *figures["baselines"].values()]:
        assert all(0.0 <= entry[name] <= 1.0 for name in METRIC_NAMES)
        assert entry["n"] == 60
        assert sum(focus["n"] for focus in entry["by_focus"].values()) == 60


def test_an_invalid_reply_is_searched_with_uniform_weights_and_counted(figures):
    broken, uniform = figures["routers"]["broken"], figures["routers"]["uniform"]
    assert broken["fallbacks"] == 60 and uniform["fallbacks"] == 0
    assert {name: broken[name] for name in METRIC_NAMES} == {name: uniform[name] for name in METRIC_NAMES}


def test_the_uniform_router_and_the_uniform_baseline_agree(figures):
    router, baseline = figures["routers"]["uniform"], figures["baselines"]["uniform"]
    assert {name: router[name] for name in METRIC_NAMES} == {name: baseline[name] for name in METRIC_NAMES}


def test_each_channel_alone_is_best_on_queries_in_its_own_words(figures):
    baselines = figures["baselines"]
    for channel in ("visual", "audio", "transcription", "metadata"):
        own = baselines[f"{channel}_only"]["by_focus"][channel]["recall_at_5"]
        others = [baselines[f"{m}_only"]["by_focus"][channel]["recall_at_5"] for m in ("visual", "audio", "metadata")]
        assert own >= max(others)
        assert own >= 0.6


def test_every_fusion_method_gives_figures(small):
    sample, index = small
    for fusion in ("rrf", "zscore"):
        figures = evaluate_search(index, sample.judgements, {"teacher": ReferenceTeacher()}, fusion=fusion)
        assert figures["fusion"] == fusion
        assert 0.0 < figures["routers"]["teacher"]["recall_at_5"] <= 1.0


def test_weights_routed_once_give_every_fusion_methods_figures(small):
    sample, index = small
    judged = search_judged(index, sample.judgements)
    routed = judged_weights(judged, ReferenceTeacher())

    for fusion in FUSION_METHODS:
        whole = evaluate_search(index, sample.judgements, {"teacher": ReferenceTeacher()}, fusion=fusion)
        assert weights_figures(judged, routed, fusion) == whole["routers"]["teacher"]
        assert baseline_figures(judged, fusion) == whole["baselines"]
