"""Data Mix: shares always add up to 100%, generating shows the set, datasets are saved, renamed, split and
deleted, uploads are validated with line numbers, and a billable teacher waits for confirmation."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from streamlit.testing.v1 import AppTest

from core.backends import LocalBackend
from core.datasets.library import DatasetLibrary
from core.prompts import DEFAULT_TEACHER_VERSION
from core.routers.base import RouterReply
from core.schema import MODALITIES, RoutingDecision
from core.settings import load_settings
from core.store import Store
from core.synth import DIFFICULTIES, DOMAINS, FOCI
from dashboard import data_mix_charts as mix_charts
from dashboard import data_mix_views as views
from dashboard import dataset_views as datasets
from dashboard.components import plain_markdown
from tests.app.helpers import (
    RUN_TIMEOUT_S,
    BillableRouter,
    CountingRouter,
    alerts,
    chart_rows,
    open_page,
    reasons,
    run_app,
    texts,
)

PAGE = "data_mix.py"


def open_data_mix() -> AppTest:
    return open_page(run_app(), PAGE)


def shares(at: AppTest, group: str, keys: Sequence[str]) -> dict[str, int]:
    return {key: at.slider(key=views.share_key(group, key)).value for key in keys}


def query_counts(at: AppTest) -> list[int]:
    """The "N queries" captions under the share sliders, in page order."""
    return [int(c.value.split()[0].replace(",", "")) for c in at.caption if c.value.endswith(" queries")]


def generate(at: AppTest) -> AppTest:
    return at.button(key=views.GENERATE_KEY).click().run()


def set_total(at: AppTest, total: int | str) -> AppTest:
    return at.text_input(key=views.TOTAL_KEY).input(str(total)).run()


def preview(at: AppTest):
    """The sample rows, every column the page holds (the table shows the query, its focus and the weights)."""
    [frame] = [d.value for d in at.dataframe if "reasoning" in d.value.columns]
    return frame


def charts(at: AppTest) -> dict[str, list[dict]]:
    """Chart rows by what they draw: 'weights:<channel>', 'focus', 'difficulty', 'domain' or 'length'."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        rows = chart_rows(chart)
        spec = json.loads(chart.proto.spec)
        title = spec.get("title")
        if rows and "channel" in rows[0]:
            found[f"weights:{rows[0]['channel']}"] = rows
        elif rows and "words" in rows[0]:
            found["length"] = rows
        else:
            found[title.split(":")[0]] = rows
    return found


def series_total(rows: list[dict], series: str) -> int:
    return sum(row["queries"] for row in rows if row["series"] == series)


def metric(at: AppTest, label: str) -> str:
    [value] = [m.value for m in at.metric if m.label == label]
    return value


def library() -> DatasetLibrary:
    settings = load_settings()
    return DatasetLibrary(Store(settings.store_path), settings.data_dir)


def save_as(at: AppTest, name: str) -> AppTest:
    at.text_input(key=views.SAVE_NAME_KEY).input(name)
    return at.button(key="data_mix_save").click().run()


# ---- the mix --------------------------------------------------------------------------------------------------


def test_moving_a_share_rebalances_the_rest_of_its_group_to_100_percent():
    at = open_data_mix()
    assert shares(at, "focus", FOCI) == {"visual": 22, "audio": 22, "transcription": 22, "metadata": 22, "mixed": 12}

    at = at.slider(key=views.share_key("focus", "visual")).set_value(50).run()

    assert not at.exception
    focus = shares(at, "focus", FOCI)
    assert focus["visual"] == 50
    assert sum(focus.values()) == 100
    # The others keep their proportions: four equal shares stay equal, and mixed stays the smallest.
    assert focus["audio"] == focus["transcription"] == focus["metadata"] > focus["mixed"]
    assert sum(shares(at, "difficulty", DIFFICULTIES).values()) == 100
    # The mix in force follows the sliders.
    assert at.session_state[views.MIX_KEY].focus["visual"] == pytest.approx(0.5)


def test_counts_follow_the_total_and_add_up_in_every_group():
    at = set_total(open_data_mix(), 200)

    counts = query_counts(at)
    focus, difficulty, domain = counts[:5], counts[5:9], counts[9:]
    assert len(domain) == len(DOMAINS)
    assert sum(focus) == sum(difficulty) == sum(domain) == 200
    assert focus[0] == 44  # 22% of 200


def test_custom_terms_add_a_custom_domain_and_the_domains_still_add_up():
    at = open_data_mix()
    at = at.text_area(key=views.TERMS_KEY).input("Acme Rocket\nZephyr 9, Blue Harbor").run()

    domain = shares(at, "domain", (*DOMAINS, "custom"))
    assert domain["custom"] > 0
    assert sum(domain.values()) == 100
    assert at.session_state[views.MIX_KEY].custom_vocabulary == ["Acme Rocket", "Zephyr 9", "Blue Harbor"]

    at = at.text_area(key=views.TERMS_KEY).input("").run()
    assert sum(shares(at, "domain", DOMAINS).values()) == 100
    assert "custom" not in at.session_state[views.MIX_KEY].domain


def test_a_reserved_string_in_a_custom_term_is_refused_with_a_sentence():
    at = open_data_mix()
    at = at.text_area(key=views.TERMS_KEY).input("Assistant: **hello**").run()

    assert not at.exception
    [reason] = reasons(at)  # beside Generate, which is off
    assert "The custom vocabulary cannot be used" in reason and "Assistant:" in reason
    assert "\\*\\*hello\\*\\*" in reason  # the term as typed, not in bold
    assert at.button(key=views.GENERATE_KEY).disabled
    assert at.session_state[views.MIX_KEY].custom_vocabulary == []


def test_the_mix_survives_leaving_the_page():
    at = open_data_mix()
    at = at.slider(key=views.share_key("difficulty", "edge")).set_value(40).run()
    at = open_page(at, "overview.py")
    at = open_page(at, PAGE)

    assert shares(at, "difficulty", DIFFICULTIES)["edge"] == 40
    assert sum(shares(at, "difficulty", DIFFICULTIES).values()) == 100


# ---- generating -----------------------------------------------------------------------------------------------


def test_empty_states_before_anything_is_generated_or_saved():
    at = open_data_mix()

    assert not at.exception
    assert "Nothing generated yet: shape the mix above and press Generate." in alerts(at)
    assert datasets.EMPTY_LIBRARY in alerts(at)
    assert not at.get("vega_lite_chart")


def test_regenerating_with_a_small_total_changes_the_preview_and_the_charts():
    at = generate(open_data_mix())
    assert not at.exception
    first_rows = preview(at)
    first_charts = charts(at)
    assert metric(at, "Queries") == "1,000"
    assert series_total(first_charts["focus"], "target") == 1000
    assert len(first_rows) == views.PREVIEW_ROWS
    assert list(first_rows.columns) == ["query", "focus", "difficulty", "domain", *MODALITIES, "reasoning"]

    at = set_total(at, 200)
    assert any("changed since this set was generated" in text for text in alerts(at))
    at = generate(at)

    rows = preview(at)
    now = charts(at)
    assert metric(at, "Queries") == "200"
    assert len(rows) == 200
    assert rows["query"].tolist() != first_rows["query"].head(200).tolist()
    assert series_total(now["focus"], "target") == 200
    assert sum(row["queries"] for row in now["length"]) == 200
    for channel in MODALITIES:
        assert sum(row["queries"] for row in now[f"weights:{channel}"]) == 200
        assert now[f"weights:{channel}"] != first_charts[f"weights:{channel}"]
    assert series_total(now["difficulty"], "generated") == 200
    assert series_total(now["domain"], "target") == 200
    assert not any("changed since this set was generated" in text for text in alerts(at))


def test_the_preview_shows_the_teachers_weights_and_reasoning_for_each_query():
    at = generate(set_total(open_data_mix(), 100))

    row = preview(at).iloc[0]
    expected = LocalBackend(load_settings(), Store(load_settings().store_path)).teacher().route(row["query"]).decision
    assert {m: row[m] for m in MODALITIES} == pytest.approx(expected.weights())
    assert row["reasoning"] == expected.reasoning
    assert row["focus"] in FOCI and row["difficulty"] in DIFFICULTIES and row["domain"] in DOMAINS


def test_diversity_figures_are_shown_as_metrics():
    at = generate(set_total(open_data_mix(), 100))

    labels = {m.label for m in at.metric}
    assert {"Distinct queries", "Distinct openings", "Length, words", "Vocabulary", "Duplicates removed"} <= labels
    assert " ± " in metric(at, "Length, words")


def test_the_teachers_lead_is_its_highest_weight_and_a_tie_is_mixed():
    seen = RoutingDecision(visual=0.55, audio=0.15, transcription=0.15, metadata=0.15)
    tied = RoutingDecision(visual=0.4, audio=0.4, transcription=0.1, metadata=0.1)

    assert mix_charts.leading_channel(seen) == "visual"
    assert mix_charts.leading_channel(tied) == mix_charts.MIXED


# ---- the teacher prompt ---------------------------------------------------------------------------------------


def test_the_local_teacher_says_it_does_not_read_the_prompt():
    at = open_data_mix()

    assert any("routes by its cue lexicons and does not read this prompt" in c.value for c in at.caption)
    assert f"Prompt version: {DEFAULT_TEACHER_VERSION}" in [c.value for c in at.caption]


def test_a_prompt_without_the_query_placeholder_is_refused_and_generate_is_off():
    at = open_data_mix()
    at = at.text_area(key=views.PROMPT_WIDGET_KEY).input("Route this query, please.").run()

    assert not at.exception
    assert any("must contain {query}" in text for text in reasons(at))  # beside Generate, which is off
    assert at.button(key=views.GENERATE_KEY).disabled

    at = at.button(key="data_mix_prompt_reset").click().run()
    assert not reasons(at)
    assert not at.button(key=views.GENERATE_KEY).disabled
    assert f"Prompt version: {DEFAULT_TEACHER_VERSION}" in [c.value for c in at.caption]


def test_an_edited_prompt_is_a_new_version_recorded_in_the_saved_manifest():
    at = open_data_mix()
    at = at.text_area(key=views.PROMPT_WIDGET_KEY).input('Weigh the channels for "{query}" as JSON.').run()
    [version_caption] = [c.value for c in at.caption if c.value.startswith("Prompt version:")]
    assert "teacher-custom-" in version_caption and "(edited)" in version_caption

    at = save_as(generate(set_total(at, 100)), "custom-prompt")

    [saved] = library().list()
    assert saved.manifest["prompt_version"].startswith("teacher-custom-")
    assert saved.manifest["prompt_version"] in version_caption


# ---- saving and the library -----------------------------------------------------------------------------------


def test_saving_lists_the_dataset_and_stores_it_with_its_manifest():
    at = save_as(generate(set_total(open_data_mix(), 200)), "router-train-v1")

    assert not at.exception
    [saved] = library().list()
    assert (saved.name, saved.kind, saved.records) == ("router-train-v1", "labelled", 200)
    assert saved.manifest["mix"]["total"] == 200 and saved.manifest["seed"] == 7
    assert saved.manifest["teacher_id"] == "Local reference teacher"
    [listed] = [d.value for d in at.dataframe if "s3 uri" in d.value.columns]
    assert listed[["name", "kind", "records"]].values.tolist() == [["router-train-v1", "labelled", 200]]
    assert at.selectbox(key=datasets.DATASET_KEY).value == saved.id
    assert at.query_params[datasets.DATASET_PARAM] == saved.id


def test_a_duplicate_name_is_refused_with_the_message():
    at = save_as(generate(set_total(open_data_mix(), 100)), "mix-a")
    at = save_as(at, "MIX-A")

    assert "A dataset named 'mix-a' already exists: choose another name." in alerts(at)
    assert len(library().list()) == 1


def test_a_dataset_name_with_markdown_shows_as_written_in_the_duplicate_name_error():
    name = "x ![t](http://127.0.0.1:9/beacon.png) **bold**"
    at = save_as(generate(set_total(open_data_mix(), 100)), name)
    at = save_as(at, name)

    assert not at.exception
    [error] = [error.value for error in at.error]
    assert error == plain_markdown(f"A dataset named {name!r} already exists: choose another name.")
    assert "![" not in error and "**" not in error  # no image for the browser to fetch, no bold


def test_rename_then_delete_only_after_confirmation():
    at = save_as(generate(set_total(open_data_mix(), 100)), "first-name")
    [saved] = library().list()

    at.text_input(key=datasets.rename_key(saved.id)).input("second-name")
    at = at.button(key="data_mix_rename").click().run()
    assert [d.name for d in library().list()] == ["second-name"]
    assert "Dataset renamed." in alerts(at)

    at = at.button(key="data_mix_delete").click().run()
    assert "Delete this dataset and its files? This cannot be undone." in alerts(at)
    assert "second-name" in texts(at)
    assert len(library().list()) == 1  # nothing deleted before confirming

    at = at.button(key="data_mix_delete_cancel").click().run()
    assert not any("cannot be undone" in text for text in alerts(at))
    assert len(library().list()) == 1

    at = at.button(key="data_mix_delete").click().run()
    at = at.button(key="data_mix_delete_confirm").click().run()
    assert library().list() == []
    assert not saved.folder.exists()
    assert datasets.EMPTY_LIBRARY in alerts(at)


def test_split_saves_train_and_heldout_parts():
    at = save_as(generate(set_total(open_data_mix(), 200)), "whole")
    at.slider(key=datasets.SPLIT_RATIO_KEY).set_value(25)
    at = at.button(key="data_mix_split").click().run()

    assert not at.exception
    parts = {d.name: d.records for d in library().list()}
    assert parts == {"whole": 200, "whole-train": 150, "whole-heldout": 50}
    assert at.selectbox(key=datasets.DATASET_KEY).value == library().find("whole-train").id


def test_s3_upload_on_the_local_backend_says_it_needs_bedrock():
    at = save_as(generate(set_total(open_data_mix(), 100)), "local-only")

    assert any("Uploading to S3 needs the Amazon Bedrock backend" in text for text in alerts(at))
    assert not [b for b in at.button if b.key == "data_mix_s3_upload"]


# ---- validating uploads ---------------------------------------------------------------------------------------
# AppTest cannot drive st.file_uploader, so these run the step the uploader hands its bytes to,
# datasets.uploaded_file_check(library, name, bytes), as a small app of its own.


def _check_uploaded_bytes(name: str, data: bytes) -> None:
    from dashboard import dataset_views, state

    dataset_views.uploaded_file_check(state.studio().backend.datasets(), name, data)


def check_upload(name: str, data: bytes) -> AppTest:
    return AppTest.from_function(_check_uploaded_bytes, args=(name, data), default_timeout=RUN_TIMEOUT_S).run()


def valid_jsonl(n: int) -> bytes:
    from core.datasets.files import encode_records, make_record
    from core.schema import RoutingDecision

    decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
    return encode_records([make_record(f"red car number {i}", decision) for i in range(n)])


def test_a_broken_upload_shows_its_problems_with_line_numbers():
    lines = valid_jsonl(120).decode().splitlines()
    lines[1] = "{not json"
    lines[4] = lines[4].replace('"schemaVersion"', '"schemaversion"')
    at = check_upload("broken.jsonl", ("\n".join(lines) + "\n").encode())

    assert not at.exception
    assert any(text.startswith("Invalid:") for text in alerts(at))
    [problems] = [d.value for d in at.dataframe]
    where = problems["where"].tolist()
    assert "line 2" in where and "line 5" in where
    assert any("not valid JSON" in p for p in problems[problems["where"] == "line 2"]["problem"])
    assert not [b for b in at.button if b.key == "data_mix_import"]


def test_a_valid_upload_can_be_imported_under_a_name():
    at = check_upload("good-file.jsonl", valid_jsonl(120))
    assert any(text.startswith("Valid: 120 labelled records") for text in alerts(at))
    assert at.text_input(key=datasets.IMPORT_NAME_KEY).value == "good-file"

    at.text_input(key=datasets.IMPORT_NAME_KEY).input("imported-set")
    at = at.button(key="data_mix_import").click().run()

    assert not at.exception
    [imported] = library().list()
    assert (imported.name, imported.records) == ("imported-set", 120)
    assert any(text.startswith("Imported: 120 labelled records") for text in alerts(at))


# ---- teachers that bill or fail -------------------------------------------------------------------------------


class _SometimesProseRouter(CountingRouter):
    """Answers every third query with prose instead of JSON."""

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        replies = super().route_many(queries)
        return [
            RouterReply(text=f"Sure! {query} is mostly visual.") if i % 3 == 0 else reply
            for i, (query, reply) in enumerate(zip(queries, replies, strict=True))
        ]


def test_a_billable_teacher_shows_the_estimate_and_labels_only_after_confirmation(teacher_is):
    router = teacher_is(BillableRouter)
    at = generate(set_total(open_data_mix(), 100))

    assert router.calls == 0
    assert any("AWS bills it: about" in text for text in alerts(at))
    assert "Nothing generated yet: shape the mix above and press Generate." in alerts(at)

    at = at.button(key="data_mix_generate_confirm").click().run()
    assert router.calls == 100
    assert metric(at, "Labelled") == "100"
    assert "Teacher cost" in {m.label for m in at.metric}
    assert not any("AWS bills it" in text for text in alerts(at))


def test_cancelling_a_billable_generation_sends_nothing(teacher_is):
    router = teacher_is(BillableRouter)
    at = generate(set_total(open_data_mix(), 100))
    at = at.button(key="data_mix_generate_cancel").click().run()

    assert router.calls == 0
    assert not any("AWS bills it" in text for text in alerts(at))


def test_label_failures_are_listed_with_the_raw_reply_and_left_out_of_the_dataset(teacher_is):
    teacher_is(_SometimesProseRouter)
    at = generate(set_total(open_data_mix(), 120))

    assert not at.exception
    assert metric(at, "Label failures") == "40"
    assert "The teacher could not label 40 queries; they are left out of the dataset." in alerts(at)
    raw = [code.value for code in at.main.code]  # the sidebar holds the data directory in a code block
    assert raw and all(text.startswith("Sure! ") for text in raw)
    at = save_as(at, "partly-labelled")
    assert library().list()[0].records == 80


# ---- S3 upload on the Bedrock backend (moto: nothing leaves this machine) -------------------------------------

BUCKET = "router-studio-data"


@pytest.fixture
def bedrock_with_fake_keys(monkeypatch):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


def saved_dataset(name: str):
    from core.datasets.files import make_record

    decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
    return library().save(name, [make_record(f"red car number {i}", decision) for i in range(100)])


def upload(at: AppTest, dataset_id: str, bucket: str, prefix: str | None = None) -> AppTest:
    at.text_input(key=datasets.S3_BUCKET_KEY).input(bucket)
    if prefix is not None:
        at.text_input(key=datasets.s3_prefix_key(dataset_id)).input(prefix)
    return at.button(key="data_mix_s3_upload").click().run()


def test_s3_upload_on_bedrock_stores_and_shows_the_uri(bedrock_with_fake_keys):
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        info = saved_dataset("bedrock-set")
        at = open_data_mix()
        assert at.text_input(key=datasets.s3_prefix_key(info.id)).value == "video-search-router/datasets/bedrock-set/"

        at = upload(at, info.id, BUCKET)

        assert not at.exception
        uri = f"s3://{BUCKET}/video-search-router/datasets/bedrock-set/data.jsonl"
        assert library().get(info.id).s3_uri == uri
        assert uri in texts(at)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
        assert keys == [
            f"video-search-router/datasets/bedrock-set/{n}"
            for n in ("data.jsonl", "data.manifest.json", "data.tags.jsonl")
        ]


def test_a_malformed_bucket_name_is_refused_before_any_call(bedrock_with_fake_keys, monkeypatch):
    from moto import mock_aws

    import core.aws.s3

    def no_client(*args, **kwargs):
        raise AssertionError("no S3 client should be made for a malformed name")

    monkeypatch.setattr(core.aws.s3, "make_client", no_client)
    with mock_aws():
        info = saved_dataset("bedrock-set")
        at = upload(open_data_mix(), info.id, "Not_A_Bucket!")

        assert not at.exception
        assert any(text.startswith("The bucket name 'Not_A_Bucket!' is not valid") for text in alerts(at))
        at = upload(at, info.id, BUCKET, prefix="has spaces/in it")
        assert any("'has spaces/in it' is not valid" in text for text in alerts(at))
        assert library().get(info.id).s3_uri is None


def test_bedrock_without_credentials_turns_generating_off_with_the_reason(monkeypatch):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    at = open_data_mix()

    assert not at.exception
    assert any("Amazon Bedrock is not ready, so generating is off" in text for text in alerts(at))
    assert not [b for b in at.button if b.key == views.GENERATE_KEY]
    assert any("receives this prompt for every query" in c.value for c in at.caption)


def test_the_dataset_in_the_address_is_selected_on_a_reload():
    older = saved_dataset("older-set")
    saved_dataset("newer-set")
    at = run_app()
    at.query_params[datasets.DATASET_PARAM] = older.id
    at = open_page(at, PAGE)

    assert at.selectbox(key=datasets.DATASET_KEY).value == older.id


# ---- what the form shows is what runs (issue 8, point 14) -----------------------------------------------------


@pytest.mark.parametrize("typed", ["0", "-5", "99999999", "1e3", "", "lots"])
def test_bad_input_a_total_the_mix_cannot_take_turns_generate_off_with_the_reason_beside_it(typed):
    at = set_total(open_data_mix(), typed)

    assert not at.exception
    generate_button = at.button(key=views.GENERATE_KEY)
    assert generate_button.disabled
    assert generate_button.label == "Generate and label queries"  # never the last total that was valid
    [reason] = reasons(at)
    assert "Queries to generate" in reason and "a whole number from 100 to 15,000" in reason
    # The groups do not count queries for a total the box no longer shows.
    assert all(not c.value.endswith(" queries") or c.value == "– queries" for c in at.caption)


def test_bad_input_a_click_that_races_an_edit_to_an_unusable_total_generates_nothing():
    at = open_data_mix()
    as_drawn = at.button(key=views.GENERATE_KEY)  # enabled, for 1,000 queries
    at.text_input(key=views.TOTAL_KEY).input("99999999")
    at = as_drawn.click().run()  # the edit and the click reach the same run

    assert not at.exception
    assert views.RESULT_KEY not in at.session_state
    assert at.button(key=views.GENERATE_KEY).disabled


def test_bad_input_generate_makes_exactly_the_total_and_seed_the_boxes_show():
    at = set_total(open_data_mix(), "1,500")
    at = at.text_input(key=views.SEED_KEY).input("42").run()
    assert at.button(key=views.GENERATE_KEY).label == "Generate and label 1,500 queries"

    at = save_as(generate(at), "exactly-as-shown")

    assert metric(at, "Queries") == "1,500"
    [saved] = library().list()
    assert saved.manifest["mix"]["total"] == 1500 and saved.manifest["seed"] == 42


def test_bad_input_a_negative_seed_turns_generate_off_and_a_fixed_one_turns_it_back_on():
    at = open_data_mix()
    at = at.text_input(key=views.SEED_KEY).input("-1").run()

    assert at.button(key=views.GENERATE_KEY).disabled
    assert any("Seed must be a whole number, 0 or more; the box holds '-1'." in text for text in reasons(at))

    at = at.text_input(key=views.SEED_KEY).input("3").run()
    assert not at.button(key=views.GENERATE_KEY).disabled
    assert not reasons(at)
    assert at.session_state[views.MIX_KEY].seed == 3


# ---- a reload loses nothing (issue 8, point 17) ---------------------------------------------------------------


def reload(at: AppTest) -> AppTest:
    """A new session on the same address, as a browser reload makes."""
    fresh = run_app()
    for name, value in at.query_params.items():
        fresh.query_params[name] = value
    return open_page(fresh, PAGE)


def test_fault_a_reload_keeps_the_tuned_mix_and_prompt():
    at = open_data_mix()
    at = at.slider(key=views.share_key("focus", "audio")).set_value(40).run()
    at = set_total(at, 300)
    at = at.text_area(key=views.PROMPT_WIDGET_KEY).input('Weigh "{query}" as JSON.').run()
    assert "draft" in at.query_params

    again = reload(at)

    assert not again.exception
    assert shares(again, "focus", FOCI)["audio"] == 40
    assert again.text_input(key=views.TOTAL_KEY).value == "300"
    assert again.session_state[views.MIX_KEY] == at.session_state[views.MIX_KEY]
    assert again.text_area(key=views.PROMPT_WIDGET_KEY).value == 'Weigh "{query}" as JSON.'


def test_a_fresh_page_writes_no_draft(studio_env):
    at = open_data_mix()

    assert "draft" not in at.query_params
    assert not (studio_env / "drafts").exists()


def test_fault_an_unsaved_set_says_so_and_a_reload_brings_it_back():
    at = generate(set_total(open_data_mix(), 150))
    assert any(text.startswith("This set is not saved yet.") for text in alerts(at))
    first_rows = preview(at)["query"].tolist()

    again = reload(at)

    assert not again.exception
    assert metric(again, "Queries") == "150"
    assert preview(again)["query"].tolist() == first_rows  # the same set, made again from its draft
    assert any("generated before the reload is back" in text for text in alerts(again))
    assert any(text.startswith("This set is not saved yet.") for text in alerts(again))

    saved = save_as(again, "kept-after-reload")
    assert not any(text.startswith("This set is not saved yet.") for text in alerts(saved))
    assert library().list()[0].records == 150
    assert "Nothing generated yet" in " ".join(alerts(reload(saved)))  # a saved set is not made again


def test_fault_a_reload_with_a_billable_teacher_labels_nothing_twice(teacher_is):
    router = teacher_is(BillableRouter)
    at = generate(set_total(open_data_mix(), 100))
    at = at.button(key="data_mix_generate_confirm").click().run()
    assert router.calls == 100

    again = reload(at)

    assert router.calls == 100  # nothing is labelled, let alone billed, without a click and a confirmation
    assert any("not saved. Generate with the same mix and prompt makes it again" in t for t in alerts(again))
    again = generate(again)
    again = again.button(key="data_mix_generate_confirm").click().run()
    assert metric(again, "Labelled") == "100"
    assert router.calls == 100  # the labels came back from the labelling checkpoint


@pytest.mark.parametrize(
    ("draft", "said"), [("0123456789abcdef", "is gone"), ("../../etc/passwd", "is not one this studio made")]
)
def test_bad_input_a_draft_in_the_address_that_cannot_be_used_says_so(draft, said):
    at = run_app()
    at.query_params["draft"] = draft
    at = open_page(at, PAGE)

    assert not at.exception
    assert any(said in text and "starts afresh" in text for text in alerts(at))
    assert at.session_state[views.MIX_KEY] == views.DataMix()


def test_fault_the_s3_upload_form_is_offered_only_while_the_backend_is_ready(monkeypatch):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")  # and no credentials anywhere
    saved_dataset("waiting-set")
    at = open_data_mix()

    assert not at.exception
    assert any("Amazon Bedrock is not ready, so uploading is off" in text for text in alerts(at))
    assert not [b for b in at.button if b.key == "data_mix_s3_upload"]
    assert not [t for t in at.text_input if t.key == datasets.S3_BUCKET_KEY]


def test_fault_deleting_a_dataset_a_model_came_from_warns_first_and_the_model_keeps_its_name(store, studio_env):
    from core.distill.jobs import JobRunner
    from core.model_registry import ModelRegistry
    from tests.app.helpers import finished_job, save_dataset

    dataset = save_dataset(store, studio_env, "taught-from")
    job = finished_job(JobRunner(store, studio_env), dataset)
    at = open_data_mix()

    at = at.button(key="data_mix_delete").click().run()
    [question] = [body for body in alerts(at) if "cannot be undone" in body]
    assert "made from dataset 'taught-from'" in question and "its name" in question
    at = at.button(key="data_mix_delete_confirm").click().run()

    assert not at.exception and library().list() == []
    model = ModelRegistry(store, studio_env).get(job.model_id)
    assert model.dataset_name == "taught-from"  # the lineage still names it
