"""Every test runs offline: no AWS instance-metadata lookups, no real credentials, a private data dir."""

import pytest


@pytest.fixture(autouse=True)
def _offline_aws_and_private_data_dir(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("VSRS_DATA_DIR", str(tmp_path_factory.mktemp("studio-data")))
