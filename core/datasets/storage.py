"""Where a dataset must live for a backend's jobs to read it: the data directory, or Amazon S3.

The Data Mix page and the job launch form ask the backend's storage whether a dataset is where its
jobs read from, and how to put it there; they never ask which backend they run on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from core.datasets.library import DatasetInfo, DatasetLibrary
from core.files import safe_name

UPLOAD_PREFIX_ROOT = "video-search-router/datasets"


class DatasetStorage(ABC):
    # A short name of the place ("the data directory", "Amazon S3").
    place: str
    # Whether a dataset must be uploaded before this backend's jobs can read it.
    needs_upload: bool

    @abstractmethod
    def location(self, info: DatasetInfo) -> str | None:
        """Where this backend's jobs read the dataset from, or None until it has been put there."""

    def describe(self) -> str:
        """One sentence on where datasets go for this backend's jobs."""
        return f"Datasets for this backend's jobs are read from {self.place}."

    def suggested_destination(self, info: DatasetInfo) -> str:
        """Where an upload of this dataset would go by default (a prefix inside the user's bucket)."""
        return f"{UPLOAD_PREFIX_ROOT}/{safe_name(info.name, fallback='dataset')}/"

    def upload(self, library: DatasetLibrary, info: DatasetInfo, bucket: str, prefix: str) -> DatasetInfo:
        """Put the dataset (data, tags, manifest) where this backend's jobs read it; returns it with its location."""
        from core.backends import CapabilityUnavailable

        raise CapabilityUnavailable("dataset-upload", f"Datasets stay in {self.place} here: nothing needs uploading.")


class LocalDatasetStorage(DatasetStorage):
    place = "the data directory"
    needs_upload = False

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def location(self, info: DatasetInfo) -> str:
        return str(info.path)

    def describe(self) -> str:
        return (
            "Local jobs read datasets from the data directory. Uploading to S3 needs the Amazon Bedrock backend "
            "(the local one is in use): choose it in Settings, with AWS credentials for your account."
        )
