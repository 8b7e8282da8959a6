"""The Overview's step model: what the store holds for each step, and the steps whose page is not there yet."""

from pathlib import Path

from core.progress import NOT_AVAILABLE, NOTHING_STORED, studio_steps
from core.store import Store


def test_each_step_says_what_the_store_holds_or_that_it_is_not_available_yet(tmp_path: Path):
    store = Store(tmp_path / "studio.db")
    store.execute(
        "INSERT INTO datasets (id, name, path, kind, records, sha256, manifest_json, created_at) "
        "VALUES ('d1', 'mix-1', 'datasets/mix-1.jsonl', 'train', 1500, 'x', '{}', datetime('now'))"
    )
    pages = {"data_mix.py", "distillation.py", "playground.py"}

    steps = studio_steps(store, pages.__contains__)

    assert [step.number for step in steps] == [1, 2, 3, 4, 5]
    assert [step.state for step in steps[:2]] == ["1 dataset, 1,500 records.", "No jobs yet."]
    assert [step.has_page for step in steps] == [True, True, False, True, False]
    # Compare counts the playground's stored runs.
    assert steps[3].state == "No comparison runs yet."
    assert [page.title for page in steps[3].pages] == ["Playground"]
    assert studio_steps(store, lambda page: False)[4].state == NOT_AVAILABLE


def test_the_evaluate_step_links_every_page_it_has(tmp_path: Path):
    store = Store(tmp_path / "studio.db")

    only_search = studio_steps(store, {"search.py"}.__contains__)[4]
    both = studio_steps(store, {"evaluate.py", "search.py"}.__contains__)[4]

    assert [page.title for page in only_search.pages] == ["Search"]
    assert only_search.has_page and only_search.state == NOTHING_STORED
    assert [(page.file, page.title) for page in both.pages] == [("evaluate.py", "Evaluation"), ("search.py", "Search")]
    assert studio_steps(store, lambda page: False)[4].pages == ()
