"""Upload a dataset (data, tags sidecar and manifest) to S3, where a Bedrock distillation job reads it.

Every name is checked before the first call, so a bad URI or key costs no request; every AWS failure
becomes one StudioAwsError sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.names import check_s3_uri
from core.aws.session import make_client
from core.datasets.files import dataset_paths
from core.datasets.library import DatasetInfo, DatasetLibrary
from core.datasets.storage import DatasetStorage

DEFAULT_SERVER_SIDE_ENCRYPTION = "AES256"
# Bedrock accepts training-data file names made of these characters only (docs/ARCHITECTURE.md, dataset files).
_BEDROCK_KEY = re.compile(r"[A-Za-z0-9_\-/.]+")
_CONTENT_TYPES = {".jsonl": "application/jsonl", ".json": "application/json"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix"); raises StudioAwsError for a malformed URI."""
    uri = uri.strip() if isinstance(uri, str) else uri
    problem = check_s3_uri(uri)
    if problem:
        raise StudioAwsError("validation", problem)
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key.strip("/")


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def dataset_keys(local_path: Path, prefix: str) -> list[tuple[Path, str]]:
    """(local file, S3 key) for the data file and those of its companions that exist, companions first."""
    paths = dataset_paths(local_path)
    prefix = prefix.strip("/")
    files = [p for p in (paths.tags, paths.manifest) if p.exists()] + [paths.data]
    return [(p, f"{prefix}/{p.name}" if prefix else p.name) for p in files]


def check_upload_key(bucket: str, key: str) -> str | None:
    """One sentence when Bedrock or S3 would refuse this object name, else None."""
    bad = next((char for char in key if not _BEDROCK_KEY.fullmatch(char)), None)
    if bad is not None:
        shown = "a space" if bad == " " else repr(bad)
        return (
            f"The S3 key {key!r} cannot contain {shown}: Bedrock accepts only letters, digits, "
            "'_', '-', '/' and '.' in training file names."
        )
    if "//" in key or key.startswith("/"):
        return f"The S3 key {key!r} has an empty folder name ('//' or a leading '/'): remove the extra '/'."
    return check_s3_uri(s3_uri(bucket, key))


def upload_dataset(
    session_or_client,
    local_path: str | Path,
    bucket: str,
    prefix: str,
    *,
    server_side_encryption: str | None = DEFAULT_SERVER_SIDE_ENCRYPTION,
) -> str:
    """Upload `<stem>.jsonl` with its tags and manifest beside it; returns the s3:// URI of the JSONL.

    The companions go first, so a data object in S3 always has its manifest next to it.
    """
    local_path = Path(local_path)
    if not local_path.is_file():
        raise StudioAwsError(
            "validation", f"The dataset file {local_path.name} does not exist: save the dataset first."
        )
    uploads = dataset_keys(local_path, prefix)
    for _, key in uploads:
        problem = check_upload_key(bucket, key)
        if problem:
            raise StudioAwsError("validation", problem)
    client = session_or_client if hasattr(session_or_client, "put_object") else make_client(session_or_client, "s3")
    extra = {"ServerSideEncryption": server_side_encryption} if server_side_encryption else {}
    for path, key in uploads:
        try:
            with open(path, "rb") as body:
                client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                    **extra,
                )
        except OSError as exc:
            raise StudioAwsError(
                "validation", f"Could not read {path.name} ({exc.strerror}): save the dataset again, then upload."
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            raise _explain_upload_error(exc, bucket, key) from exc
    return s3_uri(bucket, uploads[-1][1])


def _explain_upload_error(exc: BaseException, bucket: str, key: str) -> StudioAwsError:
    explained = explain_aws_error(exc)
    if explained.code == "NoSuchBucket":
        return StudioAwsError(
            "not-found",
            f"The S3 bucket {bucket!r} does not exist: create it in the region chosen in Settings, "
            "or give the name of an existing bucket.",
            code=explained.code,
        )
    if explained.kind == "access-denied":
        return StudioAwsError(
            "access-denied",
            f"Access denied writing s3://{bucket}/{key}: ask your AWS administrator for s3:PutObject on that "
            "bucket and prefix (and KMS use if the bucket requires it), then try again.",
            code=explained.code,
        )
    return explained


class S3DatasetStorage(DatasetStorage):
    """Bedrock jobs read training data from S3: a dataset is uploaded there with its tags and manifest."""

    place = "Amazon S3"
    needs_upload = True

    def __init__(self, data_dir: Path, session_factory: Callable[[], object]):
        self.data_dir = Path(data_dir)
        self._session_factory = session_factory

    def location(self, info: DatasetInfo) -> str | None:
        return info.s3_uri

    def describe(self) -> str:
        return "Amazon Bedrock jobs read training data from S3: upload a dataset to a bucket of yours first."

    def upload(self, library: DatasetLibrary, info: DatasetInfo, bucket: str, prefix: str) -> DatasetInfo:
        bucket, prefix = bucket.strip(), prefix.strip().strip("/")
        if not bucket:
            raise StudioAwsError("validation", "Give the name of an S3 bucket in your account first.")
        if "/" in bucket:
            # Checked as typed: inside a URI, only the part before the first '/' would be quoted back.
            raise StudioAwsError(
                "validation",
                f"The bucket name {bucket!r} cannot contain '/': give the bucket's name alone, such as my-bucket, "
                "and the folder inside it as the prefix.",
            )
        # Checked before any call: a malformed bucket or prefix costs no request.
        bucket, prefix = parse_s3_uri(f"s3://{bucket}/{prefix}")
        uri = upload_dataset(self._session_factory(), info.path, bucket, prefix)
        return library.set_s3_uri(info.id, uri)
