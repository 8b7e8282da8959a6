"""Bedrock model ids and the teacher/student pairs that distillation supports (docs/ARCHITECTURE.md, Amazon Bedrock)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BedrockModel:
    key: str
    name: str
    invoke_id: str
    customization_id: str | None = None
    note: str = ""


MODELS: dict[str, BedrockModel] = {
    m.key: m
    for m in (
        BedrockModel(
            "nova-premier", "Amazon Nova Premier", "us.amazon.nova-premier-v1:0", note="inference profile only"
        ),
        BedrockModel("nova-pro", "Amazon Nova Pro", "amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0:300k"),
        BedrockModel("nova-lite", "Amazon Nova Lite", "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0:300k"),
        BedrockModel("nova-micro", "Amazon Nova Micro", "amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0:128k"),
        BedrockModel(
            "claude-haiku-4.5",
            "Claude Haiku 4.5",
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            note="not available for distillation",
        ),
        BedrockModel(
            "claude-3-haiku",
            "Claude 3 Haiku",
            "anthropic.claude-3-haiku-20240307-v1:0",
            note="not available for distillation",
        ),
        BedrockModel(
            "claude-sonnet-4.5",
            "Claude Sonnet 4.5",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            note="the judge of the published evaluation",
        ),
    )
}

# Teacher -> students it can distil into, in us-east-1.
DISTILLATION_PAIRS: dict[str, tuple[str, ...]] = {
    "nova-premier": ("nova-micro", "nova-lite", "nova-pro"),
    "nova-pro": ("nova-micro", "nova-lite"),
}

DEFAULT_TEACHER = "nova-premier"


def students_for(teacher_key: str) -> tuple[str, ...]:
    return DISTILLATION_PAIRS.get(teacher_key, ())


def model(key: str) -> BedrockModel:
    try:
        return MODELS[key]
    except KeyError:
        raise KeyError(f"unknown model {key!r}; known: {', '.join(MODELS)}") from None


def find_model(text: str | None) -> BedrockModel | None:
    """A model by its key, name, model id or router id (`bedrock:<key>`); None for anything else, such as the
    local student's key."""
    wanted = (text or "").strip().removeprefix("bedrock:")
    for found in MODELS.values():
        if wanted and wanted in (found.key, found.name, found.invoke_id, found.customization_id):
            return found
    return None


# Foundation models worth routing with beside the teacher: (model, why it is offered).
BASELINE_ROUTERS: tuple[tuple[BedrockModel, str], ...] = (
    (MODELS["nova-micro"], "the base Nova Micro, undistilled, with the short training system text"),
    (MODELS["claude-haiku-4.5"], "the router of part 1 of the published system, with the teacher prompt"),
)
