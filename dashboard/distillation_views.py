"""The Distillation page's pieces: the launch form, the job list and a live view of one job.

Jobs run in their own worker process (core.distill.worker) and write to the store; these pieces only read
the store, and while a job is active the job list and view poll it in a fragment that stops once all have ended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import streamlit as st

from core.datasets.library import DatasetInfo
from core.distill.job_names import default_job_name, job_name_problem
from core.distill.job_timeline import NOT_STARTED, elapsed_seconds, phase_states
from core.distill.jobs import (
    INTERRUPTED,
    LOCAL_STUDENTS,
    DistillParams,
    Job,
    JobPhase,
    JobService,
    JobStatus,
    StudentKind,
)
from core.distill.trainer import TrainingConfig
from core.estimates import CostEstimate
from core.model_registry import HELDOUT_AGREEMENT, HELDOUT_RUBRIC
from core.wording import count
from dashboard import components, job_settings_views, state
from dashboard.distillation_charts import (
    AGREEMENT_CURVES,
    PERPLEXITY_CURVES,
    agreement_chart,
    has_curves,
    loss_chart,
    perplexity_chart,
)
from dashboard.model_views import MODEL_PARAM
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.checks import Checks
from dashboard.widgets.estimates import estimate_view
from dashboard.widgets.formatting import format_elapsed, format_rubric, format_share, format_time
from dashboard.widgets.layout import Figure, fact_row, figure_row
from dashboard.widgets.preflight import preflight_panel

JOB_PARAM = "job"
POLL_INTERVAL_S = 1.0
NAME_KEY = "distill_job_name"
DATASET_KEY = "distill_dataset"
STUDENT_KEY = "distill_student"
EPOCHS_KEY = "distill_epochs"
LEARNING_RATE_KEY = "distill_learning_rate"
HELDOUT_KEY = "distill_heldout_ratio"
SEED_KEY = "distill_seed"
LAUNCHED_KEY = "distill_launched"
START_KEY = "distill_start"
TEACHER_KEY = "distill_teacher"
PREFLIGHT_KEY = "distill_preflight"
ESTIMATE_KEY = "distill_estimate"
LAUNCH_PROBLEMS = "distill_launch"
PICK_KEY = "distill_pick"
STOP_KEY = "distill_stop"
PHASE_PURPOSE = {
    JobPhase.VALIDATION: "checks the dataset file line by line",
    JobPhase.DATA_PROCESSING: "labels prompt-only data and splits off the held-out share",
    JobPhase.TRAINING: "fits the student to the teacher's weights, epoch by epoch",
}
BadgeColour = Literal["gray", "blue", "green", "orange", "red"]
PHASE_BADGES: dict[str, tuple[BadgeColour, str]] = {
    NOT_STARTED: ("gray", ":material/radio_button_unchecked:"),
    JobStatus.IN_PROGRESS.value: ("blue", ":material/progress_activity:"),
    JobStatus.COMPLETED.value: ("green", ":material/check_circle:"),
    JobStatus.STOPPING.value: ("orange", ":material/pause_circle:"),
    JobStatus.STOPPED.value: ("orange", ":material/stop_circle:"),
    JobStatus.FAILED.value: ("red", ":material/error:"),
}
HELDOUT_SET_KEY = "distill_heldout_set"
# The held-out choice that scores the model on a share of its own training set.
SHARE_OF_TRAINING = ""
HELDOUT_ROLE = "heldout"
ROLE_WORDS = {"train": "training part of a split", HELDOUT_ROLE: "held-out part of a split"}
GOLD_WORDS = "gold set, weights people set"
INTERRUPTED_TEXT = (
    "The job's worker process ended without finishing (interrupted): the app or the machine restarted, or the "
    "process was killed. Start the job again."
)


def dataset_label(dataset: DatasetInfo) -> str:
    kind = "labelled" if dataset.kind == "labelled" else "prompts only"
    role = GOLD_WORDS if dataset.is_gold else ROLE_WORDS.get(dataset.role or "")
    return f"{dataset.name} ({count(dataset.records, 'record')}, {kind}{f', {role}' if role else ''})"


def student_label(job: Job, students: Sequence[StudentKind] = LOCAL_STUDENTS) -> str:
    """The student a job trains, as the launch form named it (a job started elsewhere: as its service says)."""
    labels = {student.key: student.label for student in students}
    return labels.get(job.student or "", job.student or "–")


def teacher_of(dataset: DatasetInfo, runner: JobService, params: Mapping[str, object] | None = None) -> str:
    """Who teaches a job on this dataset with these settings, as the job will record it."""
    teacher = runner.teacher_for(dataset, params)
    return teacher if dataset.kind == "labelled" else f"{teacher} (labels the prompts during DataProcessing)"


# --- launching ---------------------------------------------------------------------------------------


@st.fragment
def launch_form(current: state.Studio, runner: JobService) -> None:
    """Dataset, teacher, student, hyperparameters and a job name checked as it is typed; then Start.

    A fragment, so checking the name while the user types reruns only the form.
    """
    try:
        library = current.backend.datasets()
        datasets = library.list()
        taken = {job.name for job in runner.list()}
    except Exception as exc:  # e.g. a locked database: say so, the rest of the page still draws
        components.show_error(exc)
        return
    if not datasets:
        st.info(
            "No datasets yet: make one on the Data Mix page, then come back to distil it.", icon=":material/dataset:"
        )
        components.page_link_if_listed(state.PAGES_DIR / "data_mix.py", "Open Data Mix", ":material/tune:")
        return
    by_id = {dataset.id: dataset for dataset in datasets}
    st.session_state.setdefault(NAME_KEY, default_job_name(taken))

    # The dataset's label is long (name, size, kind): it gets the whole width, so it reads at 1024 px too.
    dataset_id = st.selectbox(
        "Dataset",
        # The library's training choices, then the held-out parts of splits: one may still be picked, with a warning.
        [d.id for d in library.training_choices()] + [d.id for d in datasets if d.role == HELDOUT_ROLE],
        key=DATASET_KEY,
        format_func=lambda key: dataset_label(by_id[key]),
        help="Datasets of the library; a prompt-only one is labelled by the teacher inside the job.",
    )
    if by_id[dataset_id].role == HELDOUT_ROLE:
        st.warning(
            "This is the held-out part of a split: a model trained on it is scored on queries like the ones it "
            "learnt from elsewhere, and the training part is left unused. Pick the training part to train on.",
            icon=":material/warning:",
        )
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input(
            "Job name",
            key=NAME_KEY,
            live=True,
            help="Checked against Amazon Bedrock's job name rule, so the same name works there: 1 to 63 letters, "
            "digits, '-', '+' or '.', starting with a letter or digit.",
        )
        st.button("New name", key="distill_new_name", icon=":material/refresh:", on_click=_suggest_name, args=(taken,))
    name = st.session_state[NAME_KEY].strip()
    teacher, student = _pair(runner)
    settings_model = runner.settings_model(student)
    pair = {"student": student, **({"teacher": teacher} if teacher is not None else {})}
    _teacher_fact(runner, by_id[dataset_id], pair)
    st.caption(runner.description)

    checks = Checks()
    if "training" in settings_model.model_fields:  # the trainer's settings: a job trained on this machine
        params = _training_settings(library.heldout_choices(dataset_id), by_id, checks)
    else:  # a job a cloud service runs: its own settings, defaults from Settings
        params = job_settings_views.cloud_settings(settings_model, runner.launch_defaults(name), checks)
    params.update(pair)
    if "training" not in settings_model.model_fields and job_settings_views.uses_dataset(params):
        fact_row([("Training data in S3", by_id[dataset_id].s3_uri or "not uploaded yet (Data Mix, Saved datasets)")])

    problem = job_name_problem(name, taken)
    if problem and name in st.session_state.get(LAUNCHED_KEY, {}):
        st.info(
            components.plain_markdown(f"Started {name}. To start another job, give it a new name."),
            icon=":material/check_circle:",
        )
    checks.require(problem)
    if checks.ok:  # the service's own checks (names and ARNs against the API's patterns), no call made
        checks.require(runner.problem(name, dataset_id, params))
    estimate = _estimate(runner, dataset_id, params, checks)
    if estimate is not None and estimate.billable:
        status = state.backend_status()
        # Billable work needs the account: say what is wrong beside Start rather than fail after the confirmation.
        checks.require(None if status.ready else f"{status.label} is not ready: {status.message or 'see Settings.'}")
    if "role_arn" in settings_model.model_fields:
        with st.expander("Preflight: can this job run?", expanded=False):
            preflight_panel(
                current.backend,
                PREFLIGHT_KEY,
                role_arn=str(params.get("role_arn") or "") or None,
                teacher=teacher,
                student=student,
            )
    request = (name, dataset_id, params)
    if confirm.waiting(START_KEY) not in (None, request):
        confirm.forget(START_KEY)  # the form changed: the estimate asked about no longer holds
    if checks.button("Start distillation", key=START_KEY, type="primary", icon=":material/play_arrow:"):
        if estimate is not None and estimate.billable:
            confirm.ask(START_KEY, request)
        else:
            _launch(runner, name, dataset_id, params)
    agreed = confirm.confirmed(START_KEY)
    if agreed is not None:
        agreed_name, agreed_dataset, agreed_params = agreed
        _launch(runner, agreed_name, agreed_dataset, agreed_params, confirmed=True)
    if estimate is not None:
        confirm.confirm_box(
            START_KEY,
            f"Start {components.plain_markdown(name)}? It bills your AWS account. "
            f"{components.plain_markdown(estimate.sentence())}",
            detail="\n".join(estimate.lines()),
            confirm="Confirm and start",
            cancel="Not now",
            icon=":material/payments:",
            confirm_icon=":material/play_arrow:",
        )
    notices.show(LAUNCH_PROBLEMS)


def _pair(runner: JobService) -> tuple[str | None, str]:
    """The teacher (None when the service has one only) and a student it can teach, from the service's pairs."""
    teachers = runner.teachers()
    student_column, teacher_column = st.columns(2, gap="large")
    teacher = None
    if len(teachers) > 1:
        teacher = teacher_column.selectbox(
            "Teacher", teachers, key=TEACHER_KEY, help="Only the teachers and students Bedrock can distil are offered."
        )
    students: dict[str, str] = {kind.key: kind.label for kind in runner.students(teacher)}
    if st.session_state.get(STUDENT_KEY) not in students:
        st.session_state.pop(STUDENT_KEY, None)  # the teacher changed and cannot teach the student picked before
    student = student_column.selectbox(
        "Student", list(students), key=STUDENT_KEY, format_func=lambda key: students[key]
    )
    return teacher, str(student)


def _teacher_fact(runner: JobService, dataset: DatasetInfo, params: Mapping[str, object]) -> None:
    fact_row([("Teacher", teacher_of(dataset, runner, params))])


def _training_settings(
    heldout_choices: Sequence[DatasetInfo], by_id: Mapping[str, DatasetInfo], checks: Checks
) -> dict[str, object]:
    """The trainer's settings of a job trained on this machine: held-out set, epochs, learning rate, share, seed."""
    defaults = TrainingConfig()
    heldout_ids = [SHARE_OF_TRAINING] + [d.id for d in heldout_choices]
    heldout_id = st.selectbox(
        "Held-out set",
        heldout_ids,
        key=HELDOUT_SET_KEY,
        format_func=lambda key: (
            "A share of the training set (below)" if key == SHARE_OF_TRAINING else dataset_label(by_id[key])
        ),
        help="What the finished model is scored on: a labelled dataset of its own (the whole training set is then "
        "trained on), or a share split off the training set.",
    )
    epochs_column, rate_column, heldout_column, seed_column = st.columns(4)
    with epochs_column:
        epochs = checks.number(
            "Epochs",
            TrainingConfig,
            "epochs",
            key=EPOCHS_KEY,
            default=defaults.epochs,
            help=f"At most this many passes; training stops early after {defaults.patience} epochs without "
            "improvement.",
        )
    with rate_column:
        learning_rate = checks.number(
            "Learning rate",
            TrainingConfig,
            "learning_rate",
            key=LEARNING_RATE_KEY,
            default=defaults.learning_rate,
            help="Adam's step size.",
        )
    with heldout_column:
        if heldout_id == SHARE_OF_TRAINING:
            heldout_ratio = st.slider(
                "Held-out share",
                min_value=0.0,
                max_value=0.5,
                value=DistillParams().heldout_ratio,
                step=0.05,
                key=HELDOUT_KEY,
                format="%.2f",
                help="Kept out of training and scored at the end: the model's held-out agreement and rubric.",
            )
        else:  # the held-out set scores the model; the whole training set is trained on
            heldout_ratio = 0.0
            fact_row([("Held-out share", "none: all of it trains")])
    with seed_column:
        seed = checks.number(
            "Seed",
            DistillParams,
            "seed",
            key=SEED_KEY,
            default=DistillParams().seed,
            help="The same data, settings and seed give the same model.",
        )
    if heldout_id == SHARE_OF_TRAINING and heldout_ratio == 0:
        st.warning(
            "With a held-out share of 0 and no held-out set, the model will have no held-out figures (agreement, "
            "rubric): nothing is kept back to score it on.",
            icon=":material/warning:",
        )
    # Exactly what the boxes show: read_number returned these values for the text they hold.
    params: dict[str, object] = {
        "epochs": epochs,
        "learning_rate": learning_rate,
        "heldout_ratio": float(heldout_ratio),
        "seed": seed,
    }
    if heldout_id != SHARE_OF_TRAINING:
        params["heldout_dataset_id"] = heldout_id
    return params


def _estimate(runner: JobService, dataset_id: str, params: dict[str, object], checks: Checks) -> CostEstimate | None:
    """What the job would cost (read once per dataset and settings), shown when it bills; None when it cannot be
    estimated yet (the reason is a check)."""
    key = (dataset_id, json.dumps(params, sort_keys=True, default=str))
    kept = st.session_state.get(ESTIMATE_KEY)
    if kept is not None and kept[0] == key:
        estimate = kept[1]
    else:
        try:
            estimate = runner.estimate(dataset_id, params)
        except Exception as exc:  # e.g. a setting the service refuses: one sentence beside Start
            checks.require(state.explain_error(exc))
            return None
        st.session_state[ESTIMATE_KEY] = (key, estimate)
    if estimate.billable:
        estimate_view(estimate)
    return estimate


def _suggest_name(taken: set[str]) -> None:
    st.session_state[NAME_KEY] = default_job_name(taken | set(st.session_state.get(LAUNCHED_KEY, {})))


def _launch(runner: JobService, name: str, dataset_id: str, params: dict[str, object], confirmed: bool = False) -> None:
    try:
        job = runner.submit(name, dataset_id, params, confirm=confirmed)
    except Exception as exc:  # a bad setting, a taken name, a worker that cannot start, an AWS refusal: one sentence
        notices.failure(LAUNCH_PROBLEMS, exc)  # the form keeps every value typed
        return
    # A second click of a double click reruns with this name taken, so the Start button is disabled by then
    # and Streamlit discards a click on a disabled widget; a billable job's request carries a token derived from
    # it, so even the same request sent twice starts one job.
    st.session_state.setdefault(LAUNCHED_KEY, {})[name] = job.id
    picker.choose(JOB_PARAM, job.id)
    confirm.forget(STOP_KEY)
    st.rerun()


# --- the job list and one job ------------------------------------------------------------------------


def jobs_section(current: state.Studio, runner: JobService) -> None:
    """The job list and the selected job; polled every second while any job is active, so both stay live."""
    try:
        active = any(job.active for job in runner.list())  # list() reconciles: a killed worker's job ends here
    except Exception as exc:  # e.g. a locked database: the launch form still works
        components.show_error(exc)
        return
    poll = POLL_INTERVAL_S if active else None
    st.fragment(_jobs_panel, run_every=poll)(current, runner, active)


def _jobs_panel(current: state.Studio, runner: JobService, polling: bool) -> None:
    try:
        jobs = runner.list()
        dataset_names = {d.id: d.name for d in current.backend.datasets().list()}
    except Exception as exc:
        components.show_error(exc)
        return
    if polling and not any(job.active for job in jobs):
        st.rerun()  # every job has ended: redraw the page once more and stop polling
    notice = runner.notice()
    if notice:  # e.g. Bedrock could not be read just now: the jobs show their last known state
        st.warning(components.plain_markdown(notice), icon=":material/cloud_off:")
    if not jobs:
        st.info("No jobs yet: start one above.", icon=":material/school:")
        return
    job_table(jobs, dataset_names)
    job = pick_job(jobs)
    with st.container(border=True):
        _job_header(job, dataset_names, runner.students())
        phase_timeline(job)
        _progress(job)
        _outcome(runner, job)
        _curves(runner.metrics(job.id), job)
        _stop_control(runner, job)
        with st.expander("Settings of this job"):
            st.json(job.params, expanded=True)


def job_table(jobs: Sequence[Job], dataset_names: Mapping[str, str]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "name": job.name,
            "status": _status_text(job),
            "progress": round(job.progress * 100),
            "elapsed": format_elapsed(elapsed_seconds(job, now)),
            "dataset": dataset_names.get(job.dataset_id or "", job.dataset_id or "–"),
            "created": format_time(job.created_at),
        }
        for job in jobs
    ]
    # Widths that fit 1024 px with every column in view (wider screens share out the rest); the phase, the
    # resulting model and the rest are in the selected job's view below.
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Job", width=170),
            "status": st.column_config.TextColumn("Status", width=110),
            "progress": st.column_config.ProgressColumn(
                "Progress", min_value=0, max_value=100, format="%d%%", width=100
            ),
            "elapsed": st.column_config.TextColumn("Elapsed", width=70),
            "dataset": st.column_config.TextColumn("Dataset", width=130),
            "created": st.column_config.TextColumn("Submitted", width=140),
        },
    )


def _status_text(job: Job) -> str:
    if job.failure_message == INTERRUPTED:
        return f"{job.status} ({job.failure_message})"
    return f"{job.status} · {job.phase}" if job.active and job.phase else job.status


def pick_job(jobs: Sequence[Job]) -> Job:
    """The job named by the "job" query parameter (so a reload returns to it), else the newest."""
    return picker.pick(
        jobs,
        param=JOB_PARAM,
        key=PICK_KEY,
        label="Job",
        item_label=lambda job: f"{job.name} · {job.status}",
        on_change=lambda: confirm.forget(STOP_KEY),
    )


def _job_header(job: Job, dataset_names: Mapping[str, str], students: Sequence[StudentKind]) -> None:
    facts = (
        ("Job", job.name),
        ("Status", _status_text(job)),
        ("Elapsed", format_elapsed(elapsed_seconds(job))),
        ("Dataset", dataset_names.get(job.dataset_id or "", job.dataset_id or "–")),
        ("Teacher", job.teacher or "–"),
        ("Student", student_label(job, students)),
    )
    fact_row(facts)


def phase_timeline(job: Job) -> None:
    """Validation -> DataProcessing -> Training, each with its state in Bedrock's words."""
    states = phase_states(job)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        for index, (phase, phase_state) in enumerate(states):
            if index:
                st.markdown(":material/arrow_forward:", width="content")
            colour, icon = PHASE_BADGES.get(phase_state, PHASE_BADGES[NOT_STARTED])
            st.badge(f"{phase.value}: {phase_state}", icon=icon, color=colour, help=PHASE_PURPOSE[phase])


def _progress(job: Job) -> None:
    if job.status == JobStatus.COMPLETED:
        text = "Done"
    elif job.active:
        text = f"{job.phase or 'Starting'}: {job.progress:.0%}"
    else:
        text = f"Ended in {job.phase or 'start-up'} at {job.progress:.0%}"
    st.progress(min(max(job.progress, 0.0), 1.0), text=text)


def _outcome(runner: JobService, job: Job) -> None:
    if job.status == JobStatus.FAILED:
        st.error("The job failed.", icon=":material/error:")
        st.text(INTERRUPTED_TEXT if job.failure_message == INTERRUPTED else job.failure_message or "No reason given.")
        log = runner.log_text(job.id, max_chars=6_000)
        if log.strip():
            with st.expander("Worker log (the end)"):
                st.code(log, language=None)
    elif job.status == JobStatus.STOPPED:
        st.info("Stopped on request: no model was saved.", icon=":material/stop_circle:")
    elif job.status == JobStatus.STOPPING:
        st.info("Stopping: the worker ends at its next check.", icon=":material/pause_circle:")
    elif job.status == JobStatus.COMPLETED and job.model_id:
        _finished_model(runner, job)


def _finished_model(runner: JobService, job: Job) -> None:
    try:
        made = state.studio().backend.models().get(job.model_id or "")
    except Exception as exc:  # deleted since: the job's figures stay, the link goes
        st.info(
            components.plain_markdown(f"The model this job made is gone: {state.explain_error(exc)}"),
            icon=":material/help:",
        )
        return
    figure_row(
        [
            Figure(
                "Held-out agreement",
                format_share(made.metrics.get(HELDOUT_AGREEMENT)),
                "Share of held-out queries whose top channel matches the teacher's.",
            ),
            Figure(
                "Held-out rubric", format_rubric(made.metrics.get(HELDOUT_RUBRIC)), "Mean weights-rubric score, 1 to 5."
            ),
            Figure("Epochs run", str(made.metrics.get("epochs_run") or "–")),
        ]
    )
    st.success("Completed: the student is registered as a custom model.", icon=":material/check_circle:")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.text(made.name)
        components.page_link_if_listed(
            state.PAGES_DIR / "models.py",
            "Open it on the Models page",
            ":material/deployed_code:",
            query_params={MODEL_PARAM: made.id},
        )


def _curves(metrics: list[dict[str, object]], job: Job) -> None:
    if not metrics:
        if job.active:
            st.caption("Training curves appear once training has reported its first figures.")
        return
    second = (
        (agreement_chart, "Share of queries whose top channel is the teacher's.")
        if has_curves(metrics, AGREEMENT_CURVES)
        else (perplexity_chart, "Perplexity of the training data under the student, per training step.")
        if has_curves(metrics, PERPLEXITY_CURVES)
        else None
    )
    loss_column, other_column = st.columns(2, gap="large")
    loss_column.altair_chart(loss_chart(metrics), width="stretch")
    loss_column.caption("Cross-entropy of the student against the teacher's answers.")
    if second is not None:
        other_column.altair_chart(second[0](metrics), width="stretch")
        other_column.caption(second[1])


def _stop_control(runner: JobService, job: Job) -> None:
    notices.show(STOP_KEY)
    if job.status != JobStatus.IN_PROGRESS or job.stop_requested:
        return
    if confirm.waiting(STOP_KEY) != job.id:
        st.button("Stop job", key=STOP_KEY, icon=":material/stop:", on_click=confirm.ask, args=(STOP_KEY, job.id))
        return
    confirm.confirm_box(
        STOP_KEY,
        "Stop this job? It ends at its next check and saves no model.",
        detail=job.name,
        confirm="Stop the job",
        cancel="Keep it running",
        icon=":material/stop_circle:",
        confirm_icon=":material/stop:",
        # e.g. it ended meanwhile: the runner's sentence says so
        on_confirm=lambda job_id: notices.attempt(STOP_KEY, lambda: runner.stop(job_id)),
    )
