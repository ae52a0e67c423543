"""Application questions: what a product asks a business that requests to join (per type),
and the check of a request's answers against them.

A product keeps its questions (at most :data:`MAX_QUESTIONS`) in its partnership settings
(``application_questions``, saved by updateProductPartnership). Each has a stable ``id``
(sent back by the owner when editing, generated when omitted), so answers and rules that name
a question survive edits of its label or options. A request's ``answers`` map question ids
to strings; the ones that do not fit are refused (400) before anything is written.
"""

import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from product_partners.kit.urls import https_url
from product_partners.partnerships.enums import PartnershipType
from product_partners.partnerships.errors import ApplicationAnswerInvalid, ApplicationAnswerMissing

MAX_QUESTIONS = 20
MAX_OPTIONS = 20
QUESTION_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class QuestionKind(StrEnum):
    short_text = "short_text"
    long_text = "long_text"
    single_choice = "single_choice"
    url = "url"


# The longest answer each kind accepts (characters).
ANSWER_LENGTH: dict[QuestionKind, int] = {
    QuestionKind.short_text: 200,
    QuestionKind.long_text: 5000,
    QuestionKind.single_choice: 100,
    QuestionKind.url: 2048,
}

QuestionId = Annotated[str, Field(pattern=QUESTION_ID_PATTERN)]
Option = Annotated[str, Field(min_length=1, max_length=100)]


class ApplicationQuestion(BaseModel):
    """Ours: one question a requesting business answers."""

    model_config = ConfigDict(title="ApplicationQuestion", extra="forbid")

    id: QuestionId | None = Field(
        default=None,
        description="Stable id (lower case letters, digits, `_`, `-`; up to 40). Send it back "
        "when editing a question so its answers and rules stay attached; omitted: generated.",
    )
    label: str = Field(min_length=1, max_length=200, description="The question shown.")
    kind: QuestionKind = Field(description="short_text, long_text, single_choice or url.")
    required: StrictBool = Field(default=False, description="A request must answer it.")
    options: list[Option] | None = Field(
        default=None,
        description=f"single_choice only: 2 to {MAX_OPTIONS} distinct options.",
    )
    partnership_types: list[PartnershipType] | None = Field(
        default=None,
        description="The request types it is asked of; omitted: every type.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ApplicationQuestion":
        if not self.label.strip():
            raise ValueError("label must not be blank")
        if self.kind == QuestionKind.single_choice:
            options = self.options or []
            if not 2 <= len(options) <= MAX_OPTIONS:
                raise ValueError(f"a single_choice question has 2 to {MAX_OPTIONS} options")
            if len(set(options)) != len(options):
                raise ValueError("options must be distinct")
        elif self.options is not None:
            raise ValueError("options are for single_choice questions only")
        if self.partnership_types is not None:
            if not self.partnership_types:
                raise ValueError("partnership_types must name at least one type (or be omitted)")
            if len(set(self.partnership_types)) != len(self.partnership_types):
                raise ValueError("partnership_types must be distinct")
        return self

    def stored(self) -> dict[str, Any]:
        """The question as the product keeps it: id and types always set."""
        return {
            "id": self.id or f"q_{secrets.token_hex(4)}",
            "label": self.label,
            "kind": self.kind.value,
            "required": self.required,
            "options": self.options,
            "partnership_types": [
                t.value for t in (self.partnership_types or list(PartnershipType))
            ],
        }


def check_question_list(questions: Sequence[ApplicationQuestion]) -> None:
    """The list's own rules (a ValueError: 400 on the field)."""
    if len(questions) > MAX_QUESTIONS:
        raise ValueError(f"at most {MAX_QUESTIONS} application questions")
    ids = [q.id for q in questions if q.id is not None]
    if len(set(ids)) != len(ids):
        raise ValueError("question ids must be distinct")


def asked(questions: Sequence[Mapping[str, Any]], partnership_type: str) -> list[Mapping[str, Any]]:
    """The stored questions a request of ``partnership_type`` is asked."""
    return [q for q in questions if partnership_type in q["partnership_types"]]


def checked_answers(
    questions: Sequence[Mapping[str, Any]],
    partnership_type: str,
    answers: Mapping[str, str] | None,
) -> dict[str, str]:
    """The answers to keep (blank ones dropped), or 400: ``application_answer_missing`` when a
    required question is unanswered, else ``application_answer_invalid`` (an answer to no
    question of this type, an option not offered, a bad URL, too long). The error's
    ``errors`` names each question as ``answers.<id>``."""
    by_id = {q["id"]: q for q in asked(questions, partnership_type)}
    kept: dict[str, str] = {}
    invalid: dict[str, list[str]] = {}
    for qid, raw in (answers or {}).items():
        question = by_id.get(qid)
        if question is None:
            invalid[f"answers.{qid}"] = [f"is not a question asked of {partnership_type} requests"]
            continue
        value = raw.strip()
        if not value:
            continue
        problem = _problem(question, value)
        if problem:
            invalid[f"answers.{qid}"] = [problem]
        else:
            kept[qid] = value
    missing = {
        f"answers.{q['id']}": ["is required"]
        for q in by_id.values()
        if q["required"] and q["id"] not in kept and f"answers.{q['id']}" not in invalid
    }
    if missing:
        raise ApplicationAnswerMissing(_names(missing), errors={**missing, **invalid})
    if invalid:
        raise ApplicationAnswerInvalid(_names(invalid), errors=invalid)
    return kept


def _problem(question: Mapping[str, Any], value: str) -> str | None:
    kind = QuestionKind(question["kind"])
    if len(value) > ANSWER_LENGTH[kind]:
        return f"must be at most {ANSWER_LENGTH[kind]} characters"
    if kind == QuestionKind.short_text and "\n" in value:
        return "must be one line"
    if kind == QuestionKind.single_choice and value not in question["options"]:
        return "must be one of: " + ", ".join(question["options"])
    if kind == QuestionKind.url:
        try:
            https_url(value)
        except ValueError as exc:
            return str(exc)
    return None


def _names(errors: Mapping[str, Any]) -> list[str]:
    return [field.removeprefix("answers.") for field in errors]
