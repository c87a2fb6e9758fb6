"""The shapes of reports, which only a group's moderators see."""

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import STORABLE, MessageOut, Out, Timestamp, UserOut

ReportAction = Literal["dismiss", "delete", "ban"]


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, pattern=STORABLE)


class ResolveIn(BaseModel):
    action: ReportAction


class ReportOut(Out):
    id: str
    group_id: str
    message: MessageOut
    reporter: UserOut
    reason: str
    status: Literal["open", "resolved"]
    created_at: Timestamp
    resolved_at: Timestamp | None = None
    resolved_by: UserOut | None = None
    resolution: ReportAction | None = None


class ReportsPage(Out):
    reports: list[ReportOut]
    has_more: bool
