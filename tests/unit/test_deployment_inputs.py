"""What the Deployments page and `deploy create` share: tags typed as key=value pairs, the new-name check, which
models a backend can deploy, and the Overview's count of live deployments (a deleted one is history)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.aws.deployments import BedrockDeploymentService
from core.cli.common import UserFacingError
from core.cli.deploy import tags_of
from core.deploy.service import LocalDeploymentService
from core.deployments import DeploymentError, new_name_problem, parse_tag_text
from core.model_registry import CustomModel
from core.progress import deployments_summary
from core.store import Store


def model(path: Path | None = None, arn: str | None = None) -> CustomModel:
    return CustomModel("m-1", "student", "local", None, None, path, arn, 0, "2026-01-01 00:00:00")


def test_tags_typed_in_one_box_are_pairs_split_by_commas_or_lines():
    typed = "team=search, stage = test\nowner=ana,"
    assert parse_tag_text(typed) == {"team": "search", "stage": "test", "owner": "ana"}
    assert parse_tag_text("  ") == {}
    with pytest.raises(DeploymentError, match="'team' is not KEY=VALUE, for example team=search"):
        parse_tag_text("team")
    with pytest.raises(UserFacingError, match="'=search' is not KEY=VALUE"):
        tags_of(["=search"])  # the CLI's --tag goes through the same rule


def test_a_new_name_follows_the_api_rule_and_must_be_free():
    assert new_name_problem("router-live", {"other"}) is None
    assert "cannot contain a space" in new_name_problem("router live", set())
    assert new_name_problem("router-live", {"router-live"}) == (
        "A deployment named 'router-live' already exists: choose another name, or swap its model."
    )
    assert new_name_problem("", set())


def test_each_backend_deploys_its_own_kind_of_model(tmp_path):
    store = Store(tmp_path / "studio.db")
    local = LocalDeploymentService(store, tmp_path)
    bedrock = BedrockDeploymentService(store, tmp_path, lambda: None)
    on_box = model(path=tmp_path)
    remote = model(arn="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc")

    assert local.deployable(on_box) and not local.deployable(remote)
    assert bedrock.deployable(remote) and not bedrock.deployable(on_box)


def test_the_deploy_step_counts_live_deployments_only(tmp_path):
    store = Store(tmp_path / "studio.db")
    records = LocalDeploymentService(store, tmp_path).records
    assert deployments_summary(store) == "No deployments yet."
    records.claim(name="router-live", kind="endpoint", model_id="m-1")
    gone, _ = records.claim(name="router-old", kind="endpoint", model_id="m-1")
    records.mark_deleted(gone["id"])

    assert deployments_summary(store) == "1 deployment."
