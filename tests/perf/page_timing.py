"""Time each page's script run with a 10,000-row dataset loaded: `python -m tests.perf.page_timing` prints JSON.

`python -m tests.perf.page_timing evaluation` times instead the Evaluation page's run that evaluates 1,000
queries across three local routers (the click on its Evaluate button: routing, scoring, keeping the run and
drawing every chart), for the `evaluation` bench group.

`python -m core bench` runs this in a child process (core itself never imports Streamlit). The studio gets
a private data directory holding a saved 10,000-record dataset and a finished distillation; the Data Mix
page also holds a generated 10,000-query mix in its session, the Search page the built-in catalog with a
query searched through the teacher and the distilled student, both scored on its judged queries, and the
Playground a query and a batch of 1,000 compared through the same two, and the Evaluation page a run of
the 10,000 records through the teacher, uniform weights and the student. Each page
is run a few times after a warm-up and the median is reported.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))

ROWS = 10_000
WARM_RUNS = 5
RUN_TIMEOUT_S = 120
PAGES = (
    "overview.py",
    "data_mix.py",
    "distillation.py",
    "models.py",
    "deployments.py",
    "playground.py",
    "settings.py",
    "search.py",
    "evaluation.py",
)
PLAYGROUND_BATCH = 1_000
SEARCH_QUERY = "dog barking loudly"


def _prepare(data_dir: Path) -> None:
    from core.datasets.library import DatasetLibrary
    from core.distill.jobs import JobRunner
    from core.distill.worker import run_job
    from core.routers.reference import ReferenceTeacher
    from core.store import Store
    from core.synth import DataMix
    from core.synth.pipeline import synthesise

    store = Store(data_dir / "studio.db")
    synthesis = synthesise(DataMix(total=ROWS, seed=7), ReferenceTeacher())
    info = DatasetLibrary(store, data_dir).save(
        "bench-10k", synthesis.records, synthesis.tags, synthesis.manifest_fields
    )
    job = JobRunner(store, data_dir).submit("bench-distill", info.id, {"epochs": 5}, background=False)
    run_job(store, data_dir, job.id)


def _page_run_seconds(script: str) -> float:
    from streamlit.testing.v1 import AppTest

    from dashboard import data_mix_views

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=RUN_TIMEOUT_S).run()
    at.switch_page(f"../pages/{script}").run()
    if script == "data_mix.py":
        at.text_input(key=data_mix_views.TOTAL_KEY).input(str(ROWS)).run()
        at.button(key=data_mix_views.GENERATE_KEY).click().run()
        generated = at.session_state[data_mix_views.RESULT_KEY]
        if len(generated.synthesis.records) < ROWS * 0.99:
            raise RuntimeError("the Data Mix page did not generate the 10,000-query mix")
    if script == "search.py":
        _search_state(at)
    if script == "playground.py":
        _playground_state(at)
    if script == "evaluation.py":
        _evaluation_state(at)
    if at.exception:
        raise RuntimeError(f"{script} raised: {at.exception[0].value}")
    timings = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        at.run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _evaluation_state(at) -> None:
    """The 10,000-record dataset evaluated through the teacher, uniform weights and the distilled student, so
    each timed run draws every figure, chart and the cascade curve of 30,000 records."""
    from core.model_registry import ModelRegistry
    from core.store import Store
    from dashboard import evaluation_run_views

    data_dir = Path(os.environ["VSRS_DATA_DIR"])
    [model] = ModelRegistry(Store(data_dir / "studio.db"), data_dir).list()
    routers = ["teacher", "uniform", f"student:{model.id}"]
    at.multiselect(key=evaluation_run_views.ROUTERS_KEY).set_value(routers).run()
    at.button(key=f"{evaluation_run_views.RUN_KEY}_start").click().run()
    if len(at.dataframe) < 1 or len(at.dataframe[0].value) != len(routers):
        raise RuntimeError("the Evaluation page did not evaluate the 10,000-record dataset")


def _search_state(at) -> None:
    """The teacher and the distilled student chosen, a query searched through both, both scored."""
    from core.model_registry import ModelRegistry
    from core.store import Store
    from dashboard import search_views

    data_dir = Path(os.environ["VSRS_DATA_DIR"])
    [model] = ModelRegistry(Store(data_dir / "studio.db"), data_dir).list()
    at.multiselect(key=search_views.ROUTERS_KEY).set_value(["teacher", f"student:{model.id}"]).run()
    at.text_input(key=f"{search_views.TRY_KEY}_query").input(SEARCH_QUERY)
    at.button(key=f"{search_views.TRY_KEY}_route").click().run()
    if len([m for m in at.metric if m.label == "Recall@5"]) != 2:
        raise RuntimeError("the Search page did not score both routers")


def _playground_state(at) -> None:
    """The teacher and the distilled student chosen, a query compared, and a batch of 1,000 compared."""
    from core.model_registry import ModelRegistry
    from core.store import Store
    from core.synth import DataMix, generate
    from dashboard import playground_batch_views, playground_views

    data_dir = Path(os.environ["VSRS_DATA_DIR"])
    [model] = ModelRegistry(Store(data_dir / "studio.db"), data_dir).list()
    at.multiselect(key=playground_views.ROUTERS_KEY).set_value(["teacher", f"student:{model.id}"]).run()
    at.text_input(key=playground_views.QUERY_KEY).input(SEARCH_QUERY)
    at.button(key=playground_views.SEND_KEY).click().run()
    queries = [q.query for q in generate(DataMix(total=PLAYGROUND_BATCH, seed=11))]
    at.text_area(key=playground_batch_views.TEXT_KEY).input("\n".join(queries)).run()
    at.button(key=playground_batch_views.RUN_KEY).click().run()
    if not any("Weights" in frame.value.columns for frame in at.dataframe):
        raise RuntimeError("the Playground did not compare the batch")


EVALUATION_QUERIES = 1000
EVALUATION_TRAINING = 4000
EVALUATION_RUNS = 3


def _prepare_evaluation(data_dir: Path) -> tuple[str, str]:
    """The bench's set and routers as the page finds them: the 1,000-query teacher-labelled held-out set (seed 8,
    tagged) in the library, and a student distilled by a real job on 4,000 queries (seed 7). (dataset, student)."""
    from core.datasets.library import DatasetLibrary
    from core.distill.jobs import JobRunner
    from core.distill.worker import run_job
    from core.routers.reference import ReferenceTeacher
    from core.store import Store
    from core.synth import DataMix
    from core.synth.pipeline import synthesise

    store = Store(data_dir / "studio.db")
    library = DatasetLibrary(store, data_dir)
    teacher = ReferenceTeacher()
    train = synthesise(DataMix(total=EVALUATION_TRAINING, seed=7), teacher)
    trained = library.save("bench-train-4k", train.records, train.tags, train.manifest_fields)
    heldout = synthesise(DataMix(total=EVALUATION_QUERIES, seed=8), teacher)
    records = heldout.records[:EVALUATION_QUERIES]
    info = library.save("bench-heldout-1k", records, heldout.tags[: len(records)], heldout.manifest_fields)
    if info.records != EVALUATION_QUERIES:
        raise RuntimeError(f"the bench held-out set has {info.records} records, not {EVALUATION_QUERIES}")
    job = JobRunner(store, data_dir).submit("bench-distill", trained.id, {"epochs": 5}, background=False)
    run_job(store, data_dir, job.id)
    model_id = JobRunner(store, data_dir).get(job.id).model_id
    return info.id, f"student:{model_id}"


def _evaluation_page_run_seconds(dataset_id: str, student: str) -> float:
    """The median of a few Evaluate clicks on the Evaluation page, each a whole script run."""
    from streamlit.testing.v1 import AppTest

    from dashboard import evaluation_run_views, evaluation_set_views

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=RUN_TIMEOUT_S).run()
    at.switch_page("../pages/evaluation.py").run()
    at.selectbox(key=evaluation_set_views.DATASET_KEY).set_value(dataset_id).run()
    at.multiselect(key=evaluation_run_views.ROUTERS_KEY).set_value(["teacher", "uniform", student]).run()
    timings = []
    for _ in range(EVALUATION_RUNS):
        button = at.button(key=f"{evaluation_run_views.RUN_KEY}_start")
        started = time.perf_counter()
        button.click().run()
        timings.append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(f"evaluation.py raised: {at.exception[0].value}")
    board = at.dataframe[0].value
    if len(board) != 3 or f"{EVALUATION_QUERIES:,}" not in " ".join(c.value for c in at.caption):
        raise RuntimeError("the Evaluation page did not evaluate the three routers on the 1,000 queries")
    return statistics.median(timings)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        os.environ["VSRS_DATA_DIR"] = str(data_dir)
        os.environ["VSRS_BACKEND"] = "local"
        if argv == ["evaluation"]:
            print(json.dumps({"evaluation": _evaluation_page_run_seconds(*_prepare_evaluation(data_dir))}))
            return 0
        _prepare(data_dir)
        figures = {script.removesuffix(".py"): _page_run_seconds(script) for script in PAGES}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
