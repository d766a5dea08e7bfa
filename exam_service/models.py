"""Every ORM table of the service, in one module (one import for Alembic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_service.db import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Objective(Base):
    """A node of the objective tree: exam -> domain -> task -> objective."""

    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    weight: Mapped[float | None]
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped[Objective | None] = relationship(remote_side=[id])


class Question(Base):
    """A question's stable identity; its content lives in immutable revisions."""

    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    current_revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    revisions: Mapped[list[QuestionRevision]] = relationship(
        back_populates="question", order_by="QuestionRevision.number"
    )


class QuestionRevision(Base):
    """One immutable version of a question's content, identified by its content hash.

    `content` holds the options (or prompts and choices), the key, the rationales and
    the explanation; the columns beside it are what the API filters on.
    """

    __tablename__ = "question_revisions"
    __table_args__ = (
        UniqueConstraint("question_id", "number"),
        Index("ix_question_revisions_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[str] = mapped_column(String(20))
    stem: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(100))
    case_title: Mapped[str | None] = mapped_column(String(300))
    case_scenario: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship(back_populates="revisions")
    objectives: Mapped[list[RevisionObjective]] = relationship(
        order_by="RevisionObjective.position", cascade="all, delete-orphan"
    )


class RevisionObjective(Base):
    """Tags a question revision with an objective; position 0 is the primary objective."""

    __tablename__ = "revision_objectives"

    revision_id: Mapped[int] = mapped_column(
        ForeignKey("question_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    objective_id: Mapped[int] = mapped_column(
        ForeignKey("objectives.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)

    objective: Mapped[Objective] = relationship()
