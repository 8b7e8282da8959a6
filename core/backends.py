"""One Backend interface, two implementations: the offline local studio and Amazon Bedrock.

The Backend is the one extension point pages use. It offers capabilities (routers by id, a job
service, a deployment service, dataset storage) and answers every request the same way: with the
thing asked for, or with CapabilityUnavailable whose sentence says what this backend cannot do and
what to do instead. Pages ask for a capability and show that sentence; they never ask which backend
they run on. docs/ARCHITECTURE.md describes the capabilities and the router ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.pricing import PriceTable, load_price_table
from core.prompts import RouterPrompt
from core.routers.base import Router
from core.routers.registry import RouterChoice, RouterId, parse_router_id, unknown_router_sentence
from core.settings import Settings
from core.store import Store

if TYPE_CHECKING:
    import boto3

    from core.aws.batch import BatchInference
    from core.aws.custom_models import BedrockModelRegistry
    from core.aws.preflight import PreflightReport
    from core.aws.session import Clients
    from core.compare import CompareHistory
    from core.datasets.library import DatasetLibrary
    from core.datasets.storage import DatasetStorage
    from core.deployments import Deployment, DeploymentService
    from core.distill.jobs import JobService
    from core.evaluate.history import EvaluationHistory
    from core.evaluate.judging import Judge
    from core.gold import GoldLabels
    from core.model_registry import ModelRegistry
    from core.routers.bedrock import RouterMode
    from core.search.library import CatalogLibrary
    from core.synth.teacher_queries import QueryWriter


class BackendUnavailable(Exception):
    """The backend cannot do this right now; the message tells the user what to do."""


class CapabilityUnavailable(BackendUnavailable):
    """This backend does not offer a capability (or not yet); the message says so in one sentence."""

    def __init__(self, capability: str, message: str):
        super().__init__(message)
        self.capability = capability


@dataclass(frozen=True)
class BackendStatus:
    kind: str
    label: str
    ready: bool
    details: dict[str, str] = field(default_factory=dict)
    message: str | None = None


class Backend(ABC):
    kind: str
    label: str
    # The router id forms this backend resolves (for help texts); the registry says what each means.
    router_id_forms: tuple[str, ...] = (
        "teacher",
        "uniform",
        "student",
        "student:<model id or directory>",
        "deployment:<name>",
        "cascade:<student id>|<teacher id>@<threshold>",
    )

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store

    def prices(self) -> PriceTable:
        return load_price_table(self.store)

    @abstractmethod
    def status(self) -> BackendStatus:
        """Whether the backend can be used, what it runs on, and what to do if it cannot."""

    def not_ready(self, message: str) -> BackendStatus:
        """This backend's status when a check could not even run: not ready, with the reason."""
        return BackendStatus(self.kind, self.label, ready=False, message=message)

    @abstractmethod
    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        """The router whose labels students learn from; one that reads a prompt gets `prompt` (None: the default)."""

    @property
    @abstractmethod
    def teacher_name(self) -> str:
        """The teacher's one name: shown in the UI and recorded in manifests, jobs and models."""

    @abstractmethod
    def aws_session(self) -> boto3.session.Session | None:
        """The AWS session this backend works in (core only), or None for a backend that needs no AWS account."""

    # ---- capabilities -------------------------------------------------------------------------------------

    def router(self, router_id: str) -> Router:
        """The router a router id names (docs/ARCHITECTURE.md, router ids), or a sentence saying why not."""
        parsed = parse_router_id(router_id)
        if parsed is None:
            raise BackendUnavailable(unknown_router_sentence(router_id, self.router_id_forms))
        return self._resolve(parsed)

    def router_choices(self) -> list[RouterChoice]:
        """Every router this backend can resolve now, for pickers: teacher, uniform and the local students."""
        from core.model_registry import ModelRegistry

        choices = [
            RouterChoice("teacher", self.teacher_name, "the teacher whose labels students learn from"),
            RouterChoice("uniform", "Uniform weights", "0.25 on every channel: the no-routing baseline"),
        ]
        choices += self._deployment_choices()
        # Only models with files here can route on this machine: the store's rows say, with no AWS call.
        students = []
        for model in ModelRegistry(self.store, self.settings.data_dir).list():
            if model.path is not None:
                students.append(RouterChoice(f"student:{model.id}", model.name, "a distilled local student"))
        choices += students
        cascade = _cascade_choice([c for c in choices if c.router_id == "student"] + students)
        return choices + ([cascade] if cascade else [])

    def _deployment_choices(self) -> list[RouterChoice]:
        """The active student and every serving deployment, from the records (no network call)."""
        from core.deployments import DeploymentError

        try:
            deployments = [d for d in self.deployments().list(refresh=False) if d.ready]
        except (BackendUnavailable, DeploymentError):
            return []
        choices = [
            RouterChoice("student", f"Active student ({d.name})", "the deployment set as the active student")
            for d in deployments
            if d.active_student
        ]
        choices += [
            RouterChoice(f"deployment:{d.name}", d.name, f"deployment of {_model_name(d)}") for d in deployments
        ]
        return choices

    def datasets(self) -> DatasetLibrary:
        """The library of named datasets in the data directory (every backend has one)."""
        from core.datasets.library import DatasetLibrary

        return DatasetLibrary(self.store, self.settings.data_dir)

    def models(self) -> ModelRegistry:
        """The custom models this studio knows: every student a distillation job made."""
        from core.model_registry import ModelRegistry

        return ModelRegistry(self.store, self.settings.data_dir)

    def comparisons(self) -> CompareHistory:
        """The stored comparison runs of this backend (the playground's history)."""
        from core.compare import CompareHistory

        return CompareHistory(self.store, self.kind)

    def gold_labels(self) -> GoldLabels:
        """Gold labels people set, by gold set, each set exported to the dataset library."""
        from core.gold import GoldLabels

        return GoldLabels(self.store, self.datasets())

    def evaluations(self) -> EvaluationHistory:
        """The evaluation runs this studio keeps: history, pinned baselines, comparisons (core.evaluate.history)."""
        from core.evaluate.history import EvaluationHistory

        return EvaluationHistory(self.store)

    def judge(self, model: str | None = None) -> Judge:
        """The LLM judge of evaluations (core.evaluate.judging); it runs on Amazon Bedrock."""
        raise CapabilityUnavailable(
            "judge",
            f"The LLM judge runs on Amazon Bedrock and {self.label} has no AWS account: choose Amazon "
            "Bedrock in Settings, or score with the deterministic rubric.",
        )

    def search_catalogs(self) -> CatalogLibrary:
        """The search catalogs: the built-in sample and those generated or imported into the data directory."""
        from core.search.library import CatalogLibrary

        return CatalogLibrary(self.store, self.settings.data_dir)

    def jobs(self) -> JobService:
        """The distillation job service of this backend."""
        raise CapabilityUnavailable("jobs", f"Distillation jobs are not available on {self.label} yet.")

    def deployments(self) -> DeploymentService:
        """The deployment service of this backend (endpoints for trained models)."""
        raise CapabilityUnavailable(
            "deployments", f"Deployments are not available on {self.label} yet: no model can be deployed."
        )

    @abstractmethod
    def dataset_storage(self) -> DatasetStorage:
        """Where a dataset must live for this backend's jobs to read it."""

    def batch_inference(self) -> BatchInference:
        """Teacher labelling as Bedrock batch jobs (large sets at about half the on-demand price)."""
        raise CapabilityUnavailable(
            "batch-inference",
            f"Batch inference runs on Amazon Bedrock and {self.label} has no AWS account: choose Amazon Bedrock in "
            "Settings (the local teacher labels thousands of queries in seconds anyway).",
        )

    def query_writer(self) -> QueryWriter:
        """A teacher model that writes synthetic queries for each bucket of a data mix."""
        raise CapabilityUnavailable(
            "query-writer",
            f"Teacher-written queries need a model on Amazon Bedrock and {self.label} has no AWS account: choose "
            "Amazon Bedrock in Settings, or use the built-in generator.",
        )

    def preflight(self, **targets: str | None) -> PreflightReport:
        """Checks of what Bedrock work needs (credentials, region, model access, bucket, role), before any runs."""
        raise CapabilityUnavailable(
            "preflight", f"{self.label} needs no AWS account, so there is nothing to check before work runs."
        )

    def _resolve(self, parsed: RouterId) -> Router:
        from core.routers.uniform import UniformRouter

        if parsed.kind == "teacher":
            return self.teacher()
        if parsed.kind == "uniform":
            return UniformRouter(self.prices())
        if parsed.kind == "student":
            return self._active_student()
        if parsed.kind == "student:":
            return self._local_student(parsed)
        if parsed.kind == "deployment:":
            return self._deployed(lambda service: service.router(parsed.argument))
        if parsed.kind == "bedrock:":
            return self._foundation_model(parsed)
        if parsed.kind == "cascade:":
            return self._cascade(parsed)
        raise BackendUnavailable(unknown_router_sentence(parsed.text, self.router_id_forms))

    def _cascade(self, parsed: RouterId) -> Router:
        """`cascade:<student id>|<teacher id>@<threshold>`: each part resolved like any router id."""
        from core.routers.cascade import CascadeRouter
        from core.routers.registry import parse_cascade_id

        try:
            spec = parse_cascade_id(parsed.argument)
        except ValueError as exc:
            raise BackendUnavailable(str(exc)) from exc
        return CascadeRouter(self.router(spec.student), self.router(spec.teacher), spec.threshold, parsed.text)

    def _active_student(self) -> Router:
        try:
            service = self.deployments()
        except CapabilityUnavailable as exc:
            raise CapabilityUnavailable(
                "deployments",
                "No deployment yet, so there is no active student: use 'student:<model id or directory>' "
                "for a trained model.",
            ) from exc
        return self._deployed(lambda found: found.active_student_router(), service)

    def _deployed(
        self, pick: Callable[[DeploymentService], Router], service: DeploymentService | None = None
    ) -> Router:
        from core.deployments import DeploymentError

        try:
            return pick(service or self.deployments())
        except DeploymentError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _foundation_model(self, parsed: RouterId) -> Router:
        raise CapabilityUnavailable(
            "bedrock-models",
            f"{parsed.text!r} is a model on Amazon Bedrock and {self.label} has no AWS account: choose Amazon "
            "Bedrock in Settings, or use a local router.",
        )

    def _local_student(self, parsed: RouterId) -> Router:
        """`student:<model id or directory>`: a registered custom model, or an artifact directory."""
        from core.distill.artifact import StudentArtifactError
        from core.model_registry import ModelRegistryError
        from core.routers.student import StudentRouter

        reference = parsed.argument
        try:
            path = self.models().get(reference).path
        except ModelRegistryError:
            path = Path(reference)
        if path is None:
            raise BackendUnavailable(
                f"Model {reference!r} lives on Amazon Bedrock: deploy it and route with 'deployment:<name>'."
            )
        try:
            return StudentRouter.from_directory(path, prices=self.prices(), router_id=parsed.text)
        except StudentArtifactError as exc:
            raise BackendUnavailable(str(exc)) from exc


class LocalBackend(Backend):
    kind = "local"
    label = "Local"

    def status(self) -> BackendStatus:
        return BackendStatus(
            kind=self.kind,
            label=self.label,
            ready=True,
            details={"teacher": self.teacher_name, "data directory": str(self.settings.data_dir)},
        )

    @property
    def teacher_name(self) -> str:
        from core.routers.reference import ReferenceTeacher

        return ReferenceTeacher.name

    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        from core.routers.reference import ReferenceTeacher

        # The reference teacher routes by its cue lexicons: there is no prompt for it to read.
        return ReferenceTeacher(self.prices())

    def aws_session(self) -> None:
        return None

    def jobs(self) -> JobService:
        from core.distill.jobs import JobRunner

        return JobRunner(self.store, self.settings.data_dir, teacher_name=self.teacher_name)

    def deployments(self) -> DeploymentService:
        from core.deploy.service import LocalDeploymentService

        return LocalDeploymentService(self.store, self.settings.data_dir, self.prices())

    def dataset_storage(self) -> DatasetStorage:
        from core.datasets.storage import LocalDatasetStorage

        return LocalDatasetStorage(self.settings.data_dir)


class BedrockBackend(Backend):
    kind = "bedrock"
    label = "Amazon Bedrock"
    router_id_forms = (*Backend.router_id_forms, "bedrock:<model id, inference profile or ARN>")

    def __init__(self, settings: Settings, store: Store):
        super().__init__(settings, store)
        self._clients: Clients | None = None
        self._models: BedrockModelRegistry | None = None

    def aws_clients(self) -> Clients:
        """The clients this backend's services share, made on first use from the chosen profile and region."""
        from core.aws.session import Clients, make_session

        if self._clients is None:
            profile, region = self.settings.aws_profile, self.settings.aws_region
            self._clients = Clients(lambda: make_session(profile, region), region)
        return self._clients

    def models(self) -> ModelRegistry:
        """The studio's models and the account's custom models on Amazon Bedrock (one registry per backend, so
        the Bedrock list is read at most every half minute)."""
        from core.aws.custom_models import BedrockModelRegistry

        if self._models is None:
            self._models = BedrockModelRegistry(self.store, self.settings.data_dir, self.aws_clients())
        return self._models

    def jobs(self) -> JobService:
        """Distillation on Amazon Bedrock, and local students taught by the Bedrock teacher."""
        from core.aws.jobs import BedrockJobService

        return BedrockJobService(
            self.store,
            self.settings.data_dir,
            clients=self.aws_clients(),
            prices=self.prices(),
            teacher_name=self.teacher_name,
            role_arn=self.settings.bedrock_role_arn,
            bucket=self.settings.bedrock_bucket,
        )

    def aws_session(self) -> boto3.session.Session:
        """A session for the chosen profile and region; BackendUnavailable says what to fix when there is none."""
        from core.aws.errors import StudioAwsError
        from core.aws.session import make_session

        try:
            return make_session(self.settings.aws_profile, self.settings.aws_region)
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def status(self) -> BackendStatus:
        from core.aws.credentials import check_credentials
        from core.aws.errors import StudioAwsError

        details = {"profile": self.settings.aws_profile or "default chain", "region": self.settings.aws_region}
        try:
            identity = check_credentials(self.aws_session())
        except (StudioAwsError, BackendUnavailable) as exc:
            return BackendStatus(self.kind, self.label, ready=False, details=details, message=str(exc))
        details.update({"account": identity.account, "identity": identity.arn})
        return BackendStatus(self.kind, self.label, ready=True, details=details)

    @property
    def teacher_name(self) -> str:
        from core.aws.models import DEFAULT_TEACHER, model

        return model(DEFAULT_TEACHER).name

    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        from core.aws.models import DEFAULT_TEACHER

        return self._bedrock_router(DEFAULT_TEACHER, router_id="teacher", prompt=prompt, mode="teacher")

    def router_choices(self) -> list[RouterChoice]:
        from core.aws.models import BASELINE_ROUTERS

        foundation = [
            RouterChoice(f"bedrock:{model.invoke_id}", model.name, purpose) for model, purpose in BASELINE_ROUTERS
        ]
        return [*super().router_choices(), *foundation]

    def deployments(self) -> DeploymentService:
        from core.aws.deployments import BedrockDeploymentService

        return BedrockDeploymentService(self.store, self.settings.data_dir, self.aws_session, self.prices())

    def preflight(self, **targets: str | None) -> PreflightReport:
        """Credentials, region, model access and inference profile, bucket and role: green, amber or red each.

        `bucket`, `role_arn`, `teacher` and `student` (a model's key, name or id, as a launch form shows it)
        default to Settings and the default pair; a student that is not a Bedrock model (the local one) is left to
        the pair's default."""
        from core.aws.models import DEFAULT_TEACHER, find_model
        from core.aws.preflight import run_preflight

        teacher, student = find_model(targets.get("teacher")), find_model(targets.get("student"))
        return run_preflight(
            self.aws_clients(),
            teacher=teacher.key if teacher is not None else DEFAULT_TEACHER,
            student=student.key if student is not None else None,
            bucket=targets.get("bucket") or self.settings.bedrock_bucket,
            role_arn=targets.get("role_arn") or self.settings.bedrock_role_arn,
        )

    def query_writer(self) -> QueryWriter:
        """The Bedrock teacher writing queries for each bucket of a mix, as many at once as Settings allow."""
        from core.aws.errors import StudioAwsError
        from core.synth.teacher_queries import QueryWriter

        try:
            client = self.aws_clients().get("bedrock-runtime")
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc
        return QueryWriter(
            client, prices=self.prices(), concurrency=self.settings.bedrock_concurrency, teacher_name=self.teacher_name
        )

    def batch_inference(self) -> BatchInference:
        from core.aws.batch import BatchInference

        return BatchInference(
            self.store,
            self.settings.data_dir,
            self.aws_clients(),
            role_arn=self.settings.bedrock_role_arn,
            bucket=self.settings.bedrock_bucket,
        )

    def dataset_storage(self) -> DatasetStorage:
        from core.aws.s3 import S3DatasetStorage

        return S3DatasetStorage(self.settings.data_dir, self.aws_session)

    def _foundation_model(self, parsed: RouterId) -> Router:
        return self._bedrock_router(parsed.argument, router_id=parsed.text)

    def judge(self, model: str | None = None) -> Judge:
        from core.aws.errors import StudioAwsError
        from core.aws.judge import DEFAULT_JUDGE_MODEL, BedrockJudge

        try:
            return BedrockJudge(self.aws_session(), model or DEFAULT_JUDGE_MODEL, self.prices())
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _bedrock_router(
        self, model: str, *, router_id: str, prompt: RouterPrompt | None = None, mode: RouterMode | None = None
    ) -> Router:
        """A Converse router; without `mode`, the model's id decides (core.routers.bedrock.mode_for_model)."""
        from core.aws.errors import StudioAwsError
        from core.routers.bedrock import BedrockRouter

        clients = self.aws_clients()
        try:
            return BedrockRouter(
                clients.session(),
                model,
                self.prices(),
                router_id=router_id,
                prompt=prompt,
                mode=mode,
                client=clients.get("bedrock-runtime"),
                concurrency=self.settings.bedrock_concurrency,
            )
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc


def _cascade_choice(students: list[RouterChoice]) -> RouterChoice | None:
    """The active student (else the newest local model) first, the teacher for the queries it is unsure of."""
    from core.routers.cascade import DEFAULT_THRESHOLD
    from core.routers.registry import cascade_id

    if not students:
        return None
    student = students[0]
    return RouterChoice(
        cascade_id(student.router_id, "teacher", DEFAULT_THRESHOLD),
        f"Cascade: {student.label}, teacher when unsure",
        f"the student answers; a reply with confidence under {DEFAULT_THRESHOLD:g} (or invalid) goes to the teacher",
    )


def _model_name(deployment: Deployment) -> str:
    lineage = deployment.lineage
    return (lineage.model_name if lineage else None) or deployment.serving_model_id or deployment.model_id


def aws_credentials_status(settings: Settings, store: Store) -> BackendStatus:
    """Who the AWS credentials of these settings belong to, whichever backend is in use (the Settings check)."""
    return BedrockBackend(settings, store).status()


BACKEND_CLASSES: dict[str, type[Backend]] = {"local": LocalBackend, "bedrock": BedrockBackend}


def backend_class(settings: Settings) -> type[Backend]:
    return BACKEND_CLASSES[settings.backend]


def make_backend(settings: Settings, store: Store) -> Backend:
    return backend_class(settings)(settings, store)
