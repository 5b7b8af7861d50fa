"""Where usage comes from: one `Source` per table, each able to sum a day and to say which days changed.

A source's watermark (its `mark`, JSON) says how far it has been read. A row that a transaction still
open has written may be invisible now and commit later with an older key, so each mark only moves up
to what is older than the grace (USAGE_ROLLUP_GRACE_SECONDS, longer than any write transaction): the
rows behind that are all committed, and the days of the rows after it are looked at again next time
(recomputing a day again is harmless: it gives the same rows).

The LLM family's calls (`llm_calls`) give the tokens per user, day and model; their credits are the
ledger's (captures), counted once, under model ''.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import FINISHED, Account, Job, JobStatus, LlmCall, Transfer, TransferKind, TransferStatus

# (user_id, model, {measure: value}) for a day; model '' when the usage is not an LLM call.
Row = tuple[int, str, dict[str, int]]


@dataclass(frozen=True)
class Source:
    name: str
    rows: Callable[[Session, datetime, datetime], Iterable[Row]]  # the usage of [start, end)
    # (the days whose usage changed since `mark`, the next mark) given (session, mark or None, now, grace)
    changed_days: Callable[[Session, object, datetime, timedelta], tuple[set[date], object]]


def utc_day(session: Session, column):
    """The UTC calendar day of a time column, in SQL (PostgreSQL's session time zone must not matter)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC text


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def ledger_rows(session: Session, start: datetime, end: datetime) -> Iterable[Row]:
    """Credits users spent: charges (captures of holds apart) from their accounts, and refunds back to them."""
    posted = (Transfer.status == TransferStatus.posted, Transfer.created_at >= start, Transfer.created_at < end,
              Account.owner_id.is_not(None))
    captured = Transfer.reference_id.is_not(None)
    charges = session.execute(
        select(Account.owner_id, captured, func.sum(Transfer.amount))
        .join(Account, Account.id == Transfer.debit_account_id)
        .where(Transfer.kind == TransferKind.charge, *posted).group_by(Account.owner_id, captured))
    for user_id, is_capture, total in charges:
        yield user_id, "", {"credits_captured" if is_capture else "credits_charged": int(total)}
    refunds = session.execute(
        select(Account.owner_id, func.sum(Transfer.amount)).join(Account, Account.id == Transfer.credit_account_id)
        .where(Transfer.kind == TransferKind.refund, *posted).group_by(Account.owner_id))
    for user_id, total in refunds:
        yield user_id, "", {"credits_refunded": int(total)}


def ledger_changed_days(session: Session, mark, now: datetime, grace: timedelta) -> tuple[set[date], int]:
    """Days of charges and refunds with an id past the mark; the next mark is the last id older than the grace."""
    after = mark or 0
    relevant = (Transfer.id > after, Transfer.kind.in_([TransferKind.charge, TransferKind.refund]))
    days = {as_date(d) for d in session.scalars(select(utc_day(session, Transfer.created_at)).where(*relevant)
                                                .distinct())}
    settled = session.scalar(select(func.max(Transfer.id)).where(Transfer.id > after,
                                                                  Transfer.created_at < now - grace))
    return days, settled or after


def job_rows(session: Session, start: datetime, end: datetime) -> Iterable[Row]:
    """Calls: the users' jobs that finished that day; errors: those that failed."""
    failed = func.sum(case((Job.status == JobStatus.failed, 1), else_=0))
    for user_id, calls, errors in session.execute(
            select(Job.owner_id, func.count(), failed)
            .where(Job.finished_at >= start, Job.finished_at < end, Job.owner_id.is_not(None),
                   Job.status.in_(list(FINISHED))).group_by(Job.owner_id)):
        yield user_id, "", {"calls": int(calls), "errors": int(errors or 0)}


def job_changed_days(session: Session, mark, now: datetime, grace: timedelta) -> tuple[set[date], str]:
    """Days of the users' jobs finished since the mark (a time); the next mark is now less the grace."""
    since = datetime.fromisoformat(mark) if mark else None
    stmt = select(utc_day(session, Job.finished_at)).where(Job.finished_at.is_not(None), Job.owner_id.is_not(None))
    if since is not None:
        stmt = stmt.where(Job.finished_at >= since)
    days = {as_date(d) for d in session.scalars(stmt.distinct())}
    following = now - grace
    return days, (max(following, since) if since else following).isoformat()


def llm_rows(session: Session, start: datetime, end: datetime) -> Iterable[Row]:
    """Tokens in and out of the users' settled LLM calls, per model."""
    for user_id, model, tokens_in, tokens_out in session.execute(
            select(LlmCall.user_id, LlmCall.model, func.sum(LlmCall.prompt_tokens), func.sum(LlmCall.completion_tokens))
            .where(LlmCall.created_at >= start, LlmCall.created_at < end).group_by(LlmCall.user_id, LlmCall.model)):
        yield user_id, model, {"tokens_in": int(tokens_in), "tokens_out": int(tokens_out)}


def llm_changed_days(session: Session, mark, now: datetime, grace: timedelta) -> tuple[set[date], int]:
    """Days of calls with an id past the mark; the next mark is the last id older than the grace."""
    after = mark or 0
    days = {as_date(d) for d in session.scalars(select(utc_day(session, LlmCall.created_at))
                                                .where(LlmCall.id > after).distinct())}
    settled = session.scalar(select(func.max(LlmCall.id)).where(LlmCall.id > after,
                                                                 LlmCall.created_at < now - grace))
    return days, settled or after


SOURCES: tuple[Source, ...] = (
    Source("transfers", ledger_rows, ledger_changed_days),
    Source("jobs", job_rows, job_changed_days),
    Source("llm_calls", llm_rows, llm_changed_days),
)
