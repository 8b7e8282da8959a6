"""S3 upload with moto: three objects land beside each other, encrypted; bad names cost no request.

`fake_credentials` (tests/aws/conftest.py) sets test keys in the environment; nothing reaches AWS.
"""

import json
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from core.aws.errors import StudioAwsError
from core.aws.s3 import parse_s3_uri, upload_dataset
from core.aws.session import make_session
from core.datasets.files import make_record, write_dataset
from core.schema import RoutingDecision

REGION = "us-east-1"
BUCKET = "router-studio-data"


@pytest.fixture
def dataset_file(tmp_path):
    decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
    records = [make_record(f"red car number {i}", decision) for i in range(3)]
    path = tmp_path / "router-train.jsonl"
    write_dataset(path, records, manifest_fields={"seed": 7})
    return path


def test_upload_puts_data_tags_and_manifest_and_returns_the_data_uri(fake_credentials, dataset_file):
    with mock_aws():
        session = make_session(None, REGION)
        session.client("s3").create_bucket(Bucket=BUCKET)

        uri = upload_dataset(session, dataset_file, BUCKET, "studio/datasets/")

        assert uri == f"s3://{BUCKET}/studio/datasets/router-train.jsonl"
        s3 = session.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
        assert keys == [
            "studio/datasets/router-train.jsonl",
            "studio/datasets/router-train.manifest.json",
            "studio/datasets/router-train.tags.jsonl",
        ]
        data = s3.get_object(Bucket=BUCKET, Key="studio/datasets/router-train.jsonl")
        assert data["Body"].read() == dataset_file.read_bytes()
        assert data["ServerSideEncryption"] == "AES256"
        manifest = json.loads(
            s3.get_object(Bucket=BUCKET, Key="studio/datasets/router-train.manifest.json")["Body"].read()
        )
        assert manifest["record_count"] == 3


def test_upload_accepts_a_client_and_an_empty_prefix(fake_credentials, dataset_file):
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        assert upload_dataset(client, dataset_file, BUCKET, "") == f"s3://{BUCKET}/router-train.jsonl"


def test_a_missing_bucket_is_one_sentence(fake_credentials, dataset_file):
    with mock_aws():
        session = make_session(None, REGION)
        with pytest.raises(StudioAwsError) as raised:
            upload_dataset(session, dataset_file, "no-such-bucket-here", "data")
    assert raised.value.kind == "not-found"
    assert "'no-such-bucket-here' does not exist" in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_access_denied_names_the_permission(dataset_file):
    from botocore.stub import Stubber

    client = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
        )
        with pytest.raises(StudioAwsError) as raised:
            upload_dataset(client, dataset_file, BUCKET, "data")
    assert raised.value.kind == "access-denied"
    assert "s3:PutObject" in str(raised.value)


@pytest.mark.parametrize(
    "prefix, expected",
    [("my data", "cannot contain a space"), ("data//train", "empty folder name"), ("données", "cannot contain")],
)
def test_a_bad_key_is_refused_before_any_call(dataset_file, prefix, expected):
    client = mock.Mock(spec=["put_object"])
    with pytest.raises(StudioAwsError, match=expected):
        upload_dataset(client, dataset_file, BUCKET, prefix)
    client.put_object.assert_not_called()


def test_a_bad_bucket_name_is_refused_before_any_call(dataset_file):
    client = mock.Mock(spec=["put_object"])
    with pytest.raises(StudioAwsError, match="bucket name"):
        upload_dataset(client, dataset_file, "My_Bucket", "data")
    client.put_object.assert_not_called()


def test_parse_s3_uri():
    assert parse_s3_uri("s3://router-bucket/studio/datasets/") == ("router-bucket", "studio/datasets")
    assert parse_s3_uri("s3://router-bucket") == ("router-bucket", "")
    for bad, reason in [
        ("https://router-bucket/x", "must start with s3://"),
        ("s3://Bad_Bucket/x", "bucket name"),
        ("", "empty"),
        ("s3://router-bucket/a b", "not valid"),
    ]:
        with pytest.raises(StudioAwsError, match=reason) as raised:
            parse_s3_uri(bad)
        assert raised.value.kind == "validation"


def test_upload_sends_exactly_these_three_put_object_requests(dataset_file):
    from botocore.stub import ANY, Stubber

    client = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    expected = [
        ("studio/router-train.tags.jsonl", "application/jsonl"),
        ("studio/router-train.manifest.json", "application/json"),
        ("studio/router-train.jsonl", "application/jsonl"),
    ]
    with Stubber(client) as stub:
        for key, content_type in expected:
            # The body is the open file itself (streamed, not read into memory): any body, every other field exact.
            stub.add_response(
                "put_object",
                {},
                {
                    "Bucket": BUCKET,
                    "Key": key,
                    "Body": ANY,
                    "ContentType": content_type,
                    "ServerSideEncryption": "AES256",
                },
            )
        assert upload_dataset(client, dataset_file, BUCKET, "studio") == f"s3://{BUCKET}/studio/router-train.jsonl"
        stub.assert_no_pending_responses()
