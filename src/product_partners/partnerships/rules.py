"""Explainable auto-approve rules: what a product decides on a request by itself, and why.

A product keeps an ordered list of rules in its partnership settings
(``partnership_rules``). Each rule is conditions over the request's facts (all must hold) and
an outcome: ``approve``, ``reject`` (with a reason the partner reads) or ``review`` (leave it
to the owner). The first rule whose conditions hold decides; when none does,
``is_affiliate_auto_accept`` acts as one last rule, ``partnership_type in (affiliate,
affiliate_pro) -> approve``; otherwise the request waits for review. So explicit rules come
first: a product that auto-accepts affiliates can still reject young businesses.

:func:`evaluate` is pure: it takes the facts (read by ``decisions.read_facts`` in the
request's transaction) and answers the trace, which names, per rule evaluated, every
condition with the input it saw and whether it held.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from product_partners.partnerships.enums import AUTO_ACCEPT_TYPES, PartnershipType
from product_partners.partnerships.questions import QuestionId

MAX_RULES = 20
MAX_CONDITIONS = 10
AUTO_ACCEPT_RULE = "is_affiliate_auto_accept"


class Fact(StrEnum):
    """What a rule may look at, as the service knows it when the request arrives."""

    partnership_type = "partnership_type"
    verified_domains = "verified_domains"  # the partner's verified custom domains (count)
    active_stores = "active_stores"  # the partner's active stores (count)
    business_age_days = "business_age_days"  # whole days since the partner business was created
    banned_by_other_owners = "banned_by_other_owners"  # other owners banning it (count)
    answer = "answer"  # the answer to one application question (``question_id``)


class Op(StrEnum):
    eq = "eq"
    ne = "ne"
    in_ = "in"
    gte = "gte"
    lte = "lte"
    answered = "answered"


class Outcome(StrEnum):
    approve = "approve"
    reject = "reject"
    review = "review"


COUNT_FACTS = (
    Fact.verified_domains,
    Fact.active_stores,
    Fact.business_age_days,
    Fact.banned_by_other_owners,
)
# The operators each fact accepts.
FACT_OPS: dict[Fact, tuple[Op, ...]] = {
    Fact.partnership_type: (Op.eq, Op.ne, Op.in_),
    **{fact: (Op.eq, Op.ne, Op.gte, Op.lte) for fact in COUNT_FACTS},
    Fact.answer: (Op.answered, Op.eq, Op.ne, Op.in_),
}

ConditionValue = StrictInt | StrictBool | StrictStr | list[StrictStr] | None


class RuleCondition(BaseModel):
    """Ours: one condition of a rule (``fact op value``)."""

    model_config = ConfigDict(title="PartnershipRuleCondition", extra="forbid")

    fact: Fact = Field(description="What the condition looks at.")
    op: Op = Field(
        description="partnership_type: eq, ne, in; counts and business_age_days: eq, ne, gte, "
        "lte; answer: answered (value true/false), eq, ne, in."
    )
    value: ConditionValue = Field(
        default=None, description="A type, a whole number, a string or a list, per the fact."
    )
    question_id: QuestionId | None = Field(
        default=None, description="fact `answer` only: the application question's id."
    )

    @model_validator(mode="after")
    def _fits(self) -> "RuleCondition":
        if self.op not in FACT_OPS[self.fact]:
            allowed = ", ".join(FACT_OPS[self.fact])
            raise ValueError(f"fact {self.fact} takes the operators {allowed}, not {self.op}")
        if (self.fact == Fact.answer) != (self.question_id is not None):
            raise ValueError("question_id is required with fact answer, and only with it")
        value = self.value
        if self.fact == Fact.partnership_type:
            names = value if isinstance(value, list) else [value]
            if (self.op == Op.in_) != isinstance(value, list) or not names:
                raise ValueError("op in takes a non-empty list; eq and ne take one type")
            if not all(v in tuple(PartnershipType) for v in names):
                raise ValueError(f"value must name types among {', '.join(PartnershipType)}")
        elif self.fact in COUNT_FACTS:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
                raise ValueError(f"fact {self.fact} takes a whole number from 0 to 1000000")
        elif self.op == Op.answered:
            if not isinstance(value, bool):
                raise ValueError("op answered takes true or false")
        elif self.op == Op.in_:
            if not isinstance(value, list) or not value or len(value) > 20:
                raise ValueError("op in takes a list of 1 to 20 strings")
        elif not isinstance(value, str) or len(value) > 5000:
            raise ValueError(f"op {self.op} on an answer takes a string")
        return self


class PartnershipRule(BaseModel):
    """Ours: one auto-approve rule: when every condition holds, its outcome decides."""

    model_config = ConfigDict(title="PartnershipRule", extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="Shown in decision traces.")
    conditions: list[RuleCondition] = Field(
        max_length=MAX_CONDITIONS,
        description=f"All must hold (up to {MAX_CONDITIONS}); an empty list always holds.",
    )
    outcome: Outcome
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="reject only, and required there: the rejection reason the partner reads.",
    )

    @model_validator(mode="after")
    def _reason(self) -> "PartnershipRule":
        if self.outcome == Outcome.reject and not (self.reason or "").strip():
            raise ValueError("a reject rule needs a reason (the partner reads it)")
        if self.outcome != Outcome.reject and self.reason is not None:
            raise ValueError("only a reject rule has a reason")
        return self


def check_rule_list(rules: Sequence[PartnershipRule]) -> None:
    if len(rules) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} partnership rules")


def unknown_questions(
    rules: Sequence[Mapping[str, Any]], questions: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """The answer conditions naming a question not in ``questions``, by field
    (``partnership_rules.<i>.conditions.<j>.question_id``): empty when all are known."""
    known = {q["id"] for q in questions}
    return {
        f"partnership_rules.{i}.conditions.{j}.question_id": [
            f"{c['question_id']!r} is not one of the product's application questions"
        ]
        for i, rule in enumerate(rules)
        for j, c in enumerate(rule["conditions"])
        if c["fact"] == Fact.answer and c["question_id"] not in known
    }


def _input(condition: Mapping[str, Any], facts: Mapping[str, Any]) -> Any:
    if condition["fact"] == Fact.answer:
        return facts["answers"].get(condition["question_id"])
    return facts[condition["fact"]]


def _holds(condition: Mapping[str, Any], seen: Any) -> bool:
    op, value = condition["op"], condition["value"]
    if op == Op.answered:
        return (seen is not None) == value
    if op == Op.eq:
        return bool(seen == value)
    if op == Op.ne:
        return bool(seen != value)
    if op == Op.in_:
        return seen in value
    if seen is None:
        return False
    return bool(seen >= value) if op == Op.gte else bool(seen <= value)


def evaluate(
    rules: Sequence[Mapping[str, Any]], facts: Mapping[str, Any], auto_accept: bool
) -> dict[str, Any]:
    """The decision on a request with ``facts``: outcome, reason, the rule that decided
    (``matched_rule``: its index, or ``is_affiliate_auto_accept``, or None) and, per rule
    evaluated (in order, up to the first that holds), each condition's input and result."""
    trace: list[dict[str, Any]] = []
    for index, rule in enumerate(rules):
        checked = []
        for condition in rule["conditions"]:
            seen = _input(condition, facts)
            checked.append({**condition, "input": seen, "holds": _holds(condition, seen)})
        matched = all(c["holds"] for c in checked)
        trace.append(
            {
                "index": index,
                "name": rule["name"],
                "outcome": rule["outcome"],
                "conditions": checked,
                "matched": matched,
            }
        )
        if matched:
            return _decision(rule["outcome"], rule.get("reason"), index, facts, trace)
    if auto_accept:
        types = [t.value for t in AUTO_ACCEPT_TYPES]
        condition = {"fact": Fact.partnership_type.value, "op": Op.in_.value, "value": types}
        seen = facts[Fact.partnership_type]
        holds = _holds(condition, seen)
        trace.append(
            {
                "index": None,
                "name": AUTO_ACCEPT_RULE,
                "outcome": Outcome.approve.value,
                "conditions": [{**condition, "question_id": None, "input": seen, "holds": holds}],
                "matched": holds,
            }
        )
        if holds:
            return _decision(Outcome.approve, None, AUTO_ACCEPT_RULE, facts, trace)
    return _decision(Outcome.review, None, None, facts, trace)


def _decision(
    outcome: str, reason: str | None, matched: int | str | None, facts: Any, trace: Any
) -> dict[str, Any]:
    return {
        "outcome": str(outcome),
        "reason": reason,
        "matched_rule": matched,
        "facts": dict(facts),
        "rules": trace,
    }
