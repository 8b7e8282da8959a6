"""Store migrations and WAL, settings precedence, editable prices, safe paths and atomic writes."""

import json
import sqlite3

import pytest

from core.files import UnsafePathError, atomic_write_text, path_inside, safe_name
from core.pricing import DEFAULT_PRICES_PER_MILLION, ModelPrice, load_price_table, parse_price, reset_prices, save_price
from core.settings import load_settings, save_settings
from core.store import MIGRATIONS, Store


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def test_store_is_wal_and_at_the_latest_schema_version(store):
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert store.query_one("PRAGMA journal_mode")[0] == "wal"
    tables = {row["name"] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "prices", "datasets", "jobs", "job_metrics", "models"} <= tables


def test_reopening_does_not_migrate_twice(tmp_path):
    Store(tmp_path / "studio.db")
    again = Store(tmp_path / "studio.db")
    versions = [row["version"] for row in again.query("SELECT version FROM schema_version")]
    assert versions == sorted(set(versions))


def test_a_failed_statement_in_a_transaction_leaves_nothing_behind(store):
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
        conn.execute("INSERT INTO prices VALUES ('x', 1, 1, 'now')")
        conn.execute("INSERT INTO prices VALUES ('x', 2, 2, 'now')")
    assert store.query("SELECT * FROM prices WHERE model_key = 'x'") == []


def test_prices_default_then_edited_then_reset(store):
    table = load_price_table(store)
    assert table.get("nova-micro").input_per_million == DEFAULT_PRICES_PER_MILLION["nova-micro"][0]
    save_price(store, ModelPrice("nova-micro", 0.05, 0.2))
    edited = load_price_table(store)
    assert edited.get("nova-micro").output_per_million == 0.2
    # 1,000 input and 100 output tokens at the edited prices.
    assert edited.cost_usd("nova-micro", 1000, 100) == pytest.approx((1000 * 0.05 + 100 * 0.2) / 1e6)
    reset_prices(store)
    assert load_price_table(store).get("nova-micro").output_per_million == DEFAULT_PRICES_PER_MILLION["nova-micro"][1]


def test_negative_prices_are_refused(store):
    with pytest.raises(ValueError, match="negative"):
        save_price(store, ModelPrice("nova-micro", -1, 0.2))


def test_saved_choices_persist_and_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("VSRS_DATA_DIR", str(tmp_path))
    settings = save_settings(load_settings(), backend="bedrock", aws_region="us-west-2")
    assert (settings.backend, settings.aws_region) == ("bedrock", "us-west-2")
    assert json.loads((tmp_path / "settings.json").read_text())["backend"] == "bedrock"
    assert load_settings().backend == "bedrock"
    monkeypatch.setenv("VSRS_BACKEND", "local")
    pinned = load_settings()
    assert pinned.backend == "local"
    assert "backend" in pinned.pinned_by_environment()


def test_settings_reject_a_malformed_region_and_unknown_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("VSRS_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError):
        save_settings(load_settings(), aws_region="not a region")
    with pytest.raises(ValueError, match="not a user setting"):
        save_settings(load_settings(), data_dir="/etc")


def test_a_corrupt_settings_file_falls_back_to_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("VSRS_DATA_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text("{not json")
    assert load_settings().backend == "local"


@pytest.mark.parametrize(
    "name, expected",
    [("My dataset v2", "My-dataset-v2"), ("../../etc/passwd", "etc-passwd"), ("   ", "untitled"), ("ünïcödé", "n-c-d")],
)
def test_safe_names(name, expected):
    assert safe_name(name) == expected


def test_paths_from_user_input_stay_inside_the_data_dir(tmp_path):
    assert path_inside(tmp_path, "datasets", "a.jsonl") == (tmp_path / "datasets" / "a.jsonl").resolve()
    with pytest.raises(UnsafePathError):
        path_inside(tmp_path, "..", "outside.jsonl")
    with pytest.raises(UnsafePathError):
        path_inside(tmp_path, "/etc/passwd")


def test_atomic_write_replaces_whole_file_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_damaged_database_file_gives_a_sentence_not_a_traceback(tmp_path):
    from core.store import StoreError

    (tmp_path / "studio.db").write_text("this is not a database, just text " * 20)
    with pytest.raises(StoreError, match="damaged or is not a SQLite file"):
        Store(tmp_path / "studio.db")


def test_an_invalid_saved_choice_is_ignored_and_the_rest_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("VSRS_DATA_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"aws_region": "not a region", "backend": "bedrock"}))
    settings = load_settings()
    assert (settings.backend, settings.aws_region) == ("bedrock", "us-east-1")


def test_billing_rates_are_unknown_until_entered_and_refuse_nonsense(tmp_path):
    from core.pricing import billing_rate, load_rates, save_rate

    store = Store(tmp_path / "studio.db")
    assert billing_rate(store, "provisioned_hour", "nova-micro") is None
    save_rate(store, "provisioned_hour", "nova-micro", 21.18)
    assert billing_rate(store, "provisioned_hour", "nova-micro") == 21.18
    assert load_rates(store) == {"provisioned_hour:nova-micro": 21.18}
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="non-negative number"):
            save_rate(store, "provisioned_hour", "nova-micro", bad)
    with pytest.raises(ValueError, match="unknown rate kind"):
        save_rate(store, "hourly", "nova-micro", 1.0)
    save_rate(store, "provisioned_hour", "nova-micro", None)
    assert billing_rate(store, "provisioned_hour", "nova-micro") is None


def test_a_typed_price_is_parsed_or_refused_with_the_model_and_the_side_named():
    assert parse_price("nova-pro", "Amazon Nova Pro", 0.8, "3.2") == (ModelPrice("nova-pro", 0.8, 3.2), [])
    price, problems = parse_price("nova-pro", "Amazon Nova Pro", float("nan"), -1)
    assert price is None
    assert problems == ["Amazon Nova Pro, input price is empty", "Amazon Nova Pro, output price cannot be negative"]
    assert parse_price("x", "X", None, float("inf"))[1] == [
        "X, input price is not a number",
        "X, output price must be a finite number",
    ]
