"""The teacher's router prompt (versioned) and the one-line student system text."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict

QUERY_PLACEHOLDER = "{query}"

TEACHER_GUIDELINES = """You are the intent router of a video search engine. Each video segment can be matched through \
four channels. Decide how much each channel should count for the user's query.

Channels:
- visual: what is seen: appearance, colours, objects, actions, scenes.
- audio: what is heard that is not speech: sounds, music, noise.
- transcription: what is said: spoken words, dialogue, narration.
- metadata: facts about the video: person names, genre, captions, titles, dates and other attributes.

Give each channel a weight between 0.0 and 1.0; the four weights must sum to 1.0.
Answer with JSON only, in exactly this form:
{"visual": 0.0, "audio": 0.0, "transcription": 0.0, "metadata": 0.0, "reasoning": "one short sentence"}"""

FEW_SHOT_EXAMPLES: tuple[tuple[str, dict[str, float], str], ...] = (
    (
        "red car driving",
        {"visual": 0.9, "audio": 0.0, "transcription": 0.0, "metadata": 0.1},
        "Appearance and motion of an object: a visual query.",
    ),
    (
        "person saying hello",
        {"visual": 0.2, "audio": 0.2, "transcription": 0.5, "metadata": 0.1},
        "A spoken greeting is found in the words said, with some help from sight and sound.",
    ),
    (
        "dog barking loudly",
        {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1},
        "A loud non-speech sound, with the dog also visible.",
    ),
)


def _examples_block() -> str:
    lines = []
    for query, weights, reasoning in FEW_SHOT_EXAMPLES:
        answer = json.dumps({**weights, "reasoning": reasoning})
        lines.append(f'Query: "{query}"\n{answer}')
    return "Examples:\n" + "\n\n".join(lines)


DEFAULT_TEACHER_TEMPLATE = f'{TEACHER_GUIDELINES}\n\n{_examples_block()}\n\nQuery: "{QUERY_PLACEHOLDER}"'
DEFAULT_TEACHER_VERSION = "teacher-v1"

STUDENT_SYSTEM_TEXT = (
    "Return JSON with visual, audio, transcription, metadata weights (sum=1.0) and reasoning "
    "for the given video search query."
)


class RouterPrompt(BaseModel):
    """A versioned prompt template; `{query}` marks where the user's query goes."""

    model_config = ConfigDict(frozen=True)

    version: str
    template: str

    def render(self, query: str) -> str:
        return self.template.replace(QUERY_PLACEHOLDER, query)


def prompt_version_for(template: str) -> str:
    """The default template keeps its name; an edited one is named by the hash of its text."""
    if template == DEFAULT_TEACHER_TEMPLATE:
        return DEFAULT_TEACHER_VERSION
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:10]
    return f"teacher-custom-{digest}"


def teacher_prompt(template: str = DEFAULT_TEACHER_TEMPLATE) -> RouterPrompt:
    if QUERY_PLACEHOLDER not in template:
        raise ValueError(f"the prompt must contain {QUERY_PLACEHOLDER} where the query goes")
    return RouterPrompt(version=prompt_version_for(template), template=template)


DEFAULT_TEACHER_PROMPT = teacher_prompt()
