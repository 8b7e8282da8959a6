"""Overview: routing a query shows the four weights, the reasoning and the figures; mistakes are explained."""

import json
import re
from collections.abc import Sequence

import pytest
from streamlit.testing.v1 import AppTest

from core.backends import LocalBackend
from core.distill.artifact import StudentArtifactError
from core.distill.jobs import JobError
from core.model_registry import ModelRegistryError
from core.routers.base import EMPTY_QUERY_ERROR, RouterReply
from core.schema import MODALITIES
from core.settings import load_settings
from core.store import Store
from dashboard import state
from tests.app.helpers import BillableRouter, CountingRouter, alerts, chart_rows, open_page, run_app, texts

QUERY = "dog barking loudly"
# Quoted '_' and '*' pair up into emphasis in markdown unless escaped; a name like snake_case never does.
MARKDOWN_PRONE_MESSAGE = "Use letters, digits, '-' or '.': no '_' and no '*' (job_2 is refused); costs $1 :red[x]."


def route(at, query: str):
    at.text_input(key="try_router_query").input(query)
    return at.button(key="try_router_route").click().run()


def weights_charts(at) -> list:
    """The charts that draw one bar per channel."""
    charts = at.get("vega_lite_chart")
    return [chart for chart in charts if {row.get("channel") for row in chart_rows(chart)} == set(MODALITIES)]


def local_teacher_result(query: str):
    settings = load_settings()
    return LocalBackend(settings, Store(settings.store_path)).teacher().route(query)


def test_routing_a_query_charts_the_teachers_weights_and_shows_its_reasoning(app):
    at = route(app, QUERY)

    assert not at.exception
    expected = local_teacher_result(QUERY)
    [chart] = weights_charts(at)
    rows = chart_rows(chart)
    assert [row["channel"] for row in rows] == list(MODALITIES)
    assert {row["channel"]: row["weight"] for row in rows} == pytest.approx(expected.decision.weights())
    assert expected.decision.reasoning in texts(at)
    assert any(m.label == "Valid" and m.value == "yes" for m in at.metric)
    assert any(m.label == "Tokens in / out (estimated)" for m in at.metric)


def test_weights_chart_keeps_channel_order_colours_and_a_zero_to_one_axis(app):
    at = route(app, QUERY)

    spec = json.dumps(json.loads(weights_charts(at)[0].proto.spec))
    assert '"domain": [0, 1]' in spec
    assert json.dumps(list(MODALITIES)) in spec
    assert '"range": ["#4C78A8", "#F58518", "#54A24B", "#B279A2"]' in spec


def test_clicking_an_example_routes_it(app):
    at = app.button(key="try_router_example_1").click().run()

    assert at.text_input(key="try_router_query").value == "Olivia talking about growing up in poverty"
    assert "Olivia talking about growing up in poverty" in texts(at)
    assert weights_charts(at)


def test_empty_query_shows_the_error_and_no_chart(app):
    at = route(app, "   ")

    assert not at.exception
    assert "No usable routing for this query." in alerts(at)
    assert EMPTY_QUERY_ERROR in texts(at)
    assert not weights_charts(at)


def test_last_result_survives_leaving_and_returning(app):
    at = route(app, QUERY)
    at = open_page(at, "settings.py")
    at = open_page(at, "overview.py")

    assert weights_charts(at)
    assert at.text_input(key="try_router_query").value == QUERY


class _ProseRouter(CountingRouter):
    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text="Sure! Visual matters most here.") for _ in queries]


def test_billable_router_shows_the_estimate_and_routes_only_after_confirmation(teacher_is):
    router = teacher_is(BillableRouter)
    at = route(run_app(), QUERY)

    assert router.calls == 0
    assert any("AWS bills it: about" in text for text in alerts(at))
    assert not weights_charts(at)

    at = at.button(key="try_router_pending_confirm").click().run()
    assert router.calls == 1
    assert weights_charts(at)
    assert not any("AWS bills it" in text for text in alerts(at))


def test_cancelling_a_billable_query_sends_nothing(teacher_is):
    router = teacher_is(BillableRouter)
    at = route(run_app(), QUERY)
    at = at.button(key="try_router_pending_cancel").click().run()

    assert router.calls == 0
    assert not any("AWS bills it" in text for text in alerts(at))


def test_a_reply_that_is_not_json_shows_its_errors_and_raw_text(teacher_is):
    teacher_is(_ProseRouter)
    at = route(run_app(), QUERY)

    assert not at.exception
    assert "No usable routing for this query." in alerts(at)
    assert "Sure! Visual matters most here." in [code.value for code in at.code]
    assert not weights_charts(at)


def test_steps_report_what_the_store_holds(app):
    store = Store(load_settings().store_path)
    store.execute(
        "INSERT INTO datasets (id, name, path, kind, records, sha256, manifest_json, created_at) "
        "VALUES ('d1', 'mix-1', 'datasets/mix-1.jsonl', 'train', 1500, 'x', '{}', datetime('now'))"
    )
    at = app.run()

    shown = texts(at)
    assert "1 dataset, 1,500 records." in shown
    assert "No jobs yet." in shown


def test_query_text_is_shown_as_text_never_as_markdown_or_html(app):
    query = "<img src=x onerror=alert(1)> **dog** barking"
    at = route(app, query)

    assert query in texts(at)
    assert not any("<img" in element.value for element in at.markdown)


def _show_error(message: str) -> None:
    from dashboard import components

    components.show_error(ValueError(message))


def _show_flash(message: str) -> None:
    from dashboard.widgets import notices

    notices.success(notices.PAGE, message)
    notices.show(notices.PAGE)


def _as_displayed(markdown_body: str) -> str:
    """What markdown shows for a body whose only markup is backslash escapes (CommonMark: any ASCII punctuation)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown_body)


@pytest.mark.parametrize(("script", "kind"), [(_show_error, "error"), (_show_flash, "success")])
def test_error_and_success_messages_show_markdown_characters_as_written(script, kind):
    at = AppTest.from_function(script, args=(MARKDOWN_PRONE_MESSAGE,)).run()

    assert not at.exception
    [box] = at.get(kind)
    assert _as_displayed(box.value) == MARKDOWN_PRONE_MESSAGE
    assert "no '\\_' and no '\\*'" in box.value  # escaped, so they cannot pair up into emphasis
    assert "\\$1 \\:red\\[x\\]" in box.value  # no formula, no colour directive


@pytest.mark.parametrize("error_class", [JobError, ModelRegistryError, StudentArtifactError])
def test_cores_user_facing_errors_are_shown_as_their_own_sentence(error_class):
    sentence = "Model 'student-1' is used by deployment 'live': delete the deployment first."

    assert state.explain_error(error_class(sentence)) == sentence


def test_the_evaluate_step_links_the_search_page(app):
    links = [link.proto.label for link in app.get("page_link")]

    assert "Open Search" in links
    assert links.index("Open Search") > links.index("Open Distil")
