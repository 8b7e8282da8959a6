"""Shared by the app and browser tests: an isolated studio environment, readers of AppTest elements, and a
small labelled dataset and a finished distillation job to show."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from core.datasets.library import DatasetInfo, DatasetLibrary
from core.distill import worker
from core.distill.jobs import Job, JobRunner
from core.routers.base import RouterReply
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise
from dashboard.widgets import checks

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
# Generous: the first run in a process imports pandas, altair and the routers.
RUN_TIMEOUT_S = 30
SMALL_DATASET = 120
FEW_EPOCHS = 3


def run_app() -> AppTest:
    """The studio app after its first run (on its default page, Overview)."""
    return AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S).run()


def open_page(at: AppTest, script: str) -> AppTest:
    """Switch to pages/<script>; AppTest paths are relative to the entry script's directory."""
    return at.switch_page(f"../pages/{script}").run()


def chart_rows(chart) -> list[dict]:
    """The rows a vega-lite chart element draws (Streamlit moves inline rows out of the spec into Arrow)."""
    proto = chart.proto
    buffers = [proto.data.data] if proto.data.data else [dataset.data.data for dataset in proto.datasets]
    frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(buffer) for buffer in buffers]
    return [row for frame in frames for row in frame.to_dict("records")]


def texts(at: AppTest) -> list[str]:
    """Everything rendered as plain text (st.text), main area and sidebar."""
    return [element.value for element in at.text]


def alerts(at: AppTest) -> list[str]:
    """The bodies of every error, warning, info and success box, main area and sidebar."""
    return [element.value for group in (at.error, at.warning, at.info, at.success) for element in group]


def reasons(at: AppTest) -> list[str]:
    """What is written beside an action that is off (dashboard.widgets.checks), as markdown bodies."""
    return [element.value for element in at.markdown if element.value.startswith(checks.REASONS_PREFIX)]


def save_dataset(store: Store, data_dir: Path, name: str = "small-labelled", total: int = SMALL_DATASET) -> DatasetInfo:
    """A small dataset synthesised and labelled by the local teacher, saved in the library."""
    made = synthesise(DataMix(total=total, seed=3), ReferenceTeacher(), teacher_id="Local reference teacher")
    return DatasetLibrary(store, data_dir).save(name, made.records, made.tags, made.manifest_fields)


def finished_job(runner: JobRunner, dataset: DatasetInfo, name: str = "router-distill-done") -> Job:
    """A job run to completion by the real worker code, in this process; it registers its model."""
    job = runner.submit(name, dataset.id, {"epochs": FEW_EPOCHS}, background=False)
    worker.run_job(runner.store, runner.data_dir, job.id)
    return runner.get(job.id)


class CountingRouter(UniformRouter):
    """A stand-in teacher that counts the queries it was sent (a billable one must get none before consent)."""

    calls = 0

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        type(self).calls += len(queries)
        return super().route_many(queries)


class BillableRouter(CountingRouter):
    price_key = "nova-premier"
