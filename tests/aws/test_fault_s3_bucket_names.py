"""A bucket name the S3 upload refuses is quoted exactly as typed, and refused before any AWS call."""

from __future__ import annotations

import pytest

from core.aws.errors import StudioAwsError
from core.aws.s3 import S3DatasetStorage
from core.datasets.files import make_record
from core.datasets.library import DatasetLibrary
from core.schema import RoutingDecision
from core.store import Store


def never_called():
    raise AssertionError("an AWS session was asked for: the name should have been refused first")


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("../../etc", "The bucket name '../../etc' cannot contain '/'"),
        ("s3://my-bucket", "The bucket name 's3://my-bucket' cannot contain '/'"),
        ("my-bucket/router", "The bucket name 'my-bucket/router' cannot contain '/'"),
        ("My_Bucket", "The bucket name 'My_Bucket' is not valid"),
    ],
)
def test_bad_input_a_bucket_name_is_quoted_exactly_as_typed(tmp_path, typed, sentence):
    library = DatasetLibrary(Store(tmp_path / "studio.db"), tmp_path)
    decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
    info = library.save("router-train", [make_record(f"red car {i}", decision) for i in range(3)])

    with pytest.raises(StudioAwsError) as refused:
        S3DatasetStorage(tmp_path, never_called).upload(library, info, typed, "studio/datasets")

    assert str(refused.value).startswith(sentence)
