"""The Playground: one query through the teacher and a deployed student side by side, with their weights, agreement
and figures; a batch of 200 filtered to the disagreements; a gold label saved on a batch row and offered as a
held-out set; a Bedrock router whose prose around broken JSON shows as written, marked invalid, beside the others;
links that reproduce a comparison or a stored run; the history.

The deployed student is a real local deployment (an endpoint process on 127.0.0.1) made through core's deployment
service once for the module and deleted at its end; the tests that use it run on its data directory.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber
from streamlit.testing.v1 import AppTest

from core.aws.session import make_client, make_session
from core.backends import LocalBackend
from core.compare import compare_batch, compare_query, sample_queries
from core.distill.artifact import save_student
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelRegistry
from core.parsing import parse_router_output
from core.prompts import STUDENT_SYSTEM_TEXT
from core.routers.bedrock import APP_TAG, MAX_OUTPUT_TOKENS, BedrockRouter
from core.routers.reference import ReferenceTeacher
from core.routers.registry import RouterChoice
from core.schema import MODALITIES
from core.settings import Settings, load_settings, save_settings
from core.store import Store
from core.synth import DataMix, generate
from dashboard import playground_batch_views as batch_views
from dashboard import playground_views as views
from dashboard.components import plain_markdown
from dashboard.distillation_views import HELDOUT_SET_KEY
from dashboard.gold_views import NEW_SET
from dashboard.playground_history_views import RERUN_KEY as HISTORY_RERUN
from tests.app.helpers import APP, RUN_TIMEOUT_S, open_page, save_dataset

DEPLOYMENT = "live"
BATCH = [q.query for q in generate(DataMix(total=200, seed=11))]
BROKEN = 'Here is my analysis of the query. {"visual": 0.6, "audio": "a lot", "transcription": 0.1,\n metadata: 0.1'
BASE_MICRO = "bedrock:amazon.nova-micro-v1:0"
QUERY_CONFIRM = f"{views.CONFIRM_KEY}_confirm"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A studio with a trained local student deployed as `live` and set as the active student."""
    data_dir = tmp_path_factory.mktemp("playground") / "studio-data"
    data_dir.mkdir()
    store = Store(data_dir / "studio.db")
    queries = [q.query for q in generate(DataMix(total=300, seed=5))]
    decisions = [r.decision for r in ReferenceTeacher().route_batch(queries)]
    registry = ModelRegistry(store, data_dir)
    student = train_student(queries, decision_targets(decisions), TrainingConfig(epochs=3, validation_ratio=0.0))
    model = registry.register("student-one", None, None, save_student(student, registry.model_dir("m1")), {})
    service = LocalBackend(Settings(data_dir=data_dir), store).deployments()
    service.create(DEPLOYMENT, model.id)
    assert service.wait_until_settled(DEPLOYMENT).ready, service.log_text(DEPLOYMENT)
    service.set_active_student(DEPLOYMENT)
    yield data_dir
    service.delete(DEPLOYMENT)


@pytest.fixture
def on_deployed(deployed, monkeypatch) -> LocalBackend:
    """This test's app runs on the deployed studio; the backend, to compute what the page must show."""
    monkeypatch.setenv("VSRS_DATA_DIR", str(deployed))
    return LocalBackend(Settings(data_dir=deployed), Store(deployed / "studio.db"))


def playground(**params: str | list[str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    for name, value in params.items():
        at.query_params[name] = value
    return open_page(at.run(), "playground.py")


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def compare(at: AppTest, query: str) -> AppTest:
    at.text_input(key=views.QUERY_KEY).input(query)
    return no_exception(at.button(key=views.SEND_KEY).click().run())


def weight_charts(at: AppTest) -> list:
    return [c for c in at.get("vega_lite_chart") if '"weight"' in str(c.proto.spec)]


def facts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("Latency: ")]


def history_rows(at: AppTest):
    return next(d.value for d in at.dataframe if "First query" in d.value.columns)


def test_a_query_through_the_teacher_and_the_deployed_student_side_by_side(on_deployed):
    at = no_exception(playground())
    assert at.multiselect(key=views.ROUTERS_KEY).value == ["teacher", "student"]
    query = "dog barking loudly in the rain"

    at = compare(at, query)

    expected = compare_query(on_deployed.router, query, ["teacher", "student"]).queries[0].outcomes
    assert len(weight_charts(at)) == 2
    teacher_facts, student_facts = facts(at)
    assert "Agreement: **the reference**" in teacher_facts
    agreement = expected["student"].agreement
    verdict = "same leading channel" if agreement.agrees else "different leading channel"
    assert f"Agreement: **{verdict}**" in student_facts
    assert f"L1 distance: **{agreement.l1:.2f}**" in student_facts
    assert "Tokens in / out (estimated)" in student_facts
    assert [b.value for b in at.markdown if "badge" in b.value][:2] == [":green-badge[:material/check: valid]"] * 2
    assert dict(at.query_params) == {"router": ["teacher", "student"], "q": query}
    assert list(history_rows(at)["First query"]) == [query]


def test_a_batch_of_200_queries_is_compared_and_filtered_to_where_they_disagree(on_deployed):
    at = no_exception(playground())
    at.text_area(key=batch_views.TEXT_KEY).input("\n".join(BATCH)).run()
    assert at.button(key=batch_views.RUN_KEY).label == "Compare 200 queries"

    at = no_exception(at.button(key=batch_views.RUN_KEY).click().run())

    expected = compare_batch(on_deployed.router, BATCH, ["teacher", "student"])
    disagreeing = {q.query for q in expected.disagreements}
    assert 0 < len(disagreeing) < 200
    rows = next(d.value for d in at.dataframe if "Weights" in d.value.columns)
    assert len(rows) == 400 and set(rows["Query"]) == set(BATCH)
    summary = next(d.value for d in at.dataframe if "Latency p95" in d.value.index)
    assert summary.loc["Agreement"].tolist() == ["the reference", f"{expected.summaries['student'].agreement_rate:.0%}"]
    assert [m.value for m in at.metric if m.label == "Disagreements"] == [f"{len(disagreeing):,}"]

    at = no_exception(at.toggle(key=batch_views.ONLY_KEY).set_value(True).run())

    rows = next(d.value for d in at.dataframe if "Weights" in d.value.columns)
    assert set(rows["Query"]) == disagreeing and len(rows) == 2 * len(disagreeing)
    student_rows = rows[rows["Router"] != on_deployed.teacher_name]
    assert not student_rows["Agrees"].all()


def test_bad_batch_input_says_which_line_and_nothing_runs(on_deployed):
    at = no_exception(playground())
    at.text_area(key=batch_views.TEXT_KEY).input('{"query": "dog barking"}\n{"text": "no query here"}').run()

    assert [e.value for e in at.error] == ["line 2: no 'query' text in this object."]
    assert at.button(key=batch_views.RUN_KEY).disabled


def test_a_gold_label_set_on_a_batch_row_is_saved_and_offered_as_a_held_out_set(studio_env, store):
    training = save_dataset(store, studio_env)
    at = no_exception(playground())
    at.text_area(key=batch_views.TEXT_KEY).input("dog barking loudly\nsunset over mountains").run()
    at = no_exception(at.button(key=batch_views.RUN_KEY).click().run())
    at = no_exception(at.selectbox(key=batch_views.ROW_KEY).set_value(1).run())
    gold = batch_views.GOLD_KEY
    teacher = ReferenceTeacher().route("sunset over mountains").decision.weights()
    assert {m: at.slider(key=f"{gold}_{m}").value for m in MODALITIES} == pytest.approx(teacher)

    at = no_exception(at.slider(key=f"{gold}_visual").set_value(0.5).run())

    weights = {m: at.slider(key=f"{gold}_{m}").value for m in MODALITIES}
    assert weights["visual"] == 0.5 and sum(weights.values()) == pytest.approx(1.0)
    at.selectbox(key=f"{gold}_set").set_value(NEW_SET).run()
    at.text_input(key=f"{gold}_new_name").input("launch-queries")
    at.text_input(key=f"{gold}_note").input("half the picture, half the golden light's metadata")
    at = no_exception(at.button(key=f"{gold}_save").click().run())

    assert any("Saved in gold set 'launch-queries'" in s.value for s in at.success)
    backend = LocalBackend(Settings(data_dir=studio_env), store)
    (label,) = backend.gold_labels().labels("launch-queries")
    assert label.query == "sunset over mountains" and label.weights == pytest.approx(weights)
    exported = backend.datasets().find("gold-launch-queries")
    assert exported is not None and exported.is_gold
    assert exported.id in [d.id for d in backend.datasets().heldout_choices(training.id)]
    assert backend.datasets().default_training_set().id == training.id
    labels = next(d.value for d in at.dataframe if "Note" in d.value.columns)
    assert list(labels["Query"]) == ["sunset over mountains"]

    distillation = no_exception(open_page(at, "distillation.py"))
    assert distillation.selectbox(key=HELDOUT_SET_KEY).options[1].startswith("gold-launch-queries (1 record,")


def test_a_bedrock_router_with_prose_around_broken_json_shows_its_raw_text_beside_the_valid_answers(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    session = make_session(None, "us-east-1")
    client = make_client(session, "bedrock-runtime")
    micro = BedrockRouter(session, "amazon.nova-micro-v1:0", router_id=BASE_MICRO, client=client, concurrency=1)
    offered = LocalBackend.router_choices
    monkeypatch.setattr(
        LocalBackend,
        "router_choices",
        lambda backend: [*offered(backend), RouterChoice(BASE_MICRO, "Amazon Nova Micro", "the base model")],
    )
    monkeypatch.setattr(LocalBackend, "_foundation_model", lambda backend, parsed: micro)
    query = "dog barking loudly"

    with Stubber(client) as stub:
        at = no_exception(playground(q=query, router=["teacher", BASE_MICRO, "uniform"]))
        # Billable: nothing is sent before the estimate is confirmed.
        assert any("Amazon Nova Micro" in w.value and "AWS bills" in w.value for w in at.warning)
        assert weight_charts(at) == []
        stub.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": BROKEN}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 400, "outputTokens": 40, "totalTokens": 440},
                "metrics": {"latencyMs": 833},
            },
            {
                "modelId": "amazon.nova-micro-v1:0",
                "system": [{"text": STUDENT_SYSTEM_TEXT}],
                "messages": [{"role": "user", "content": [{"text": query}]}],
                "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
                "requestMetadata": {"app": APP_TAG, "router": BASE_MICRO, "mode": "student"},
            },
        )
        at = no_exception(at.button(key=QUERY_CONFIRM).click().run())
        stub.assert_no_pending_responses()

    assert len(weight_charts(at)) == 2  # the teacher and uniform weights; the broken reply has none
    assert ":red-badge[:material/block: invalid reply]" in [m.value for m in at.markdown]
    assert BROKEN in [c.value for c in at.code]
    micro_facts = facts(at)[1]
    assert "Tokens in / out (measured): **400 / 40**" in micro_facts
    assert "Agreement: **different leading channel**" in micro_facts
    problems = parse_router_output(BROKEN).errors
    assert problems and [e.value for e in at.error] == [plain_markdown("\n".join(problems))]


def test_on_a_backend_that_is_not_ready_billable_routers_say_so_in_their_column_and_the_others_answer():
    save_settings(load_settings(), backend="bedrock")  # and no AWS credentials anywhere
    at = no_exception(playground(router=["teacher", "uniform"]))

    at = compare(at, "sunset over mountains")

    assert len(weight_charts(at)) == 1  # uniform weights answered; nothing billable was asked for or sent
    assert not [w for w in at.warning if "AWS bills" in w.value]
    assert ":red-badge[:material/block: failed]" in [m.value for m in at.markdown]
    assert [e.value for e in at.error] == [
        "Amazon Bedrock is not ready, so this router cannot route now: open Settings in the sidebar to fix it."
    ]


def test_a_link_reproduces_a_comparison_and_a_stored_run_comes_back_and_runs_again(store):
    query = sample_queries()["audio"]
    at = no_exception(playground(q=query, router="uniform"))

    assert at.text_input(key=views.QUERY_KEY).value == query
    assert at.multiselect(key=views.ROUTERS_KEY).value == ["uniform"]
    assert len(weight_charts(at)) == 1
    at = compare(at, "sunset over mountains")
    assert list(history_rows(at)["First query"]) == ["sunset over mountains", query]
    older = store.query("SELECT id FROM playground_runs ORDER BY rowid")[0]["id"]

    again = no_exception(playground(run=older))

    assert again.text_input(key=views.QUERY_KEY).value == query
    assert len(weight_charts(again)) == 1
    again = no_exception(again.button(key=HISTORY_RERUN).click().run())
    assert list(history_rows(again)["First query"]) == [query, "sunset over mountains", query]


def test_a_link_naming_a_cascade_at_its_own_threshold_keeps_it_and_an_unknown_router_is_left_out(on_deployed):
    cascade = "cascade:student|teacher@0.45"
    at = no_exception(playground(router=["teacher", cascade, "student:no-such-model"]))

    assert at.multiselect(key=views.ROUTERS_KEY).value == ["teacher", cascade]
    [warning] = [w.value for w in at.warning if w.value.startswith("Not available here")]
    assert "no-such-model" in warning and "0.45" not in warning
    at = compare(at, "rain on a tin roof at night")
    assert len(weight_charts(at)) == 2
