"""Request-model helpers shared by every domain's schemas."""

from collections.abc import Set

from pydantic import BaseModel


def refuse_nulls(model: BaseModel, nullable: Set[str]) -> None:
    """A sent field that may be omitted but not cleared is not null (a ValueError: 400)."""
    for name in model.model_fields_set - nullable:
        if getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")
