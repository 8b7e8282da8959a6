"""The Bedrock settings a user saves: the labelling pool size, the bucket and the service role (names, never keys)."""

from __future__ import annotations

import pytest

from core.settings import MAX_BEDROCK_CONCURRENCY, Settings, load_settings, save_settings
from core.store import Store

ROLE = "arn:aws:iam::123456789012:role/BedrockDistillation"


def test_the_pool_size_bucket_and_role_are_saved_and_read_back():
    saved = save_settings(
        load_settings(), bedrock_concurrency=16, bedrock_bucket="router-studio", bedrock_role_arn=ROLE
    )

    assert (saved.bedrock_concurrency, saved.bedrock_bucket, saved.bedrock_role_arn) == (16, "router-studio", ROLE)
    assert load_settings().bedrock_concurrency == 16


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("bedrock_concurrency", 0, "greater than or equal to 1"),
        ("bedrock_concurrency", MAX_BEDROCK_CONCURRENCY + 1, "less than or equal to"),
        ("bedrock_bucket", "My Bucket", "bucket name"),
        ("bedrock_role_arn", "arn:aws:iam::123456789012:user/alice", "role/NAME"),
    ],
)
def test_a_bad_value_is_refused_and_nothing_is_saved(field, value, words):
    with pytest.raises(ValueError, match=words):
        save_settings(load_settings(), **{field: value})
    assert getattr(load_settings(), field) == getattr(Settings(), field)


def test_a_data_directory_gives_its_own_saved_choices(tmp_path):
    other = tmp_path / "elsewhere"
    save_settings(Settings(data_dir=other), aws_region="us-west-2", bedrock_concurrency=8)

    chosen = load_settings(other)

    assert (chosen.data_dir, chosen.aws_region, chosen.bedrock_concurrency) == (other, "us-west-2", 8)
    assert load_settings().aws_region == "us-east-1"


def test_migration_five_adds_the_bedrock_job_and_batch_tables(tmp_path):
    store = Store(tmp_path / "studio.db")

    assert 5 in store.applied_versions()
    tables = {row["name"] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"bedrock_jobs", "batch_runs"} <= tables
