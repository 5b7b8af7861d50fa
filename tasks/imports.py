"""Import jobs (queue `imports`): a catalogue or stock file, read as a stream, validated row by row, previewed
or applied in fenced steps.

Each step handles one batch (IMPORT_BATCH_ROWS rows): its rows in error, counts and samples, its
catalogue writes (apply) or staged rows (atomic) commit with the checkpoint (the batch's last row
number), so a cancel stops between batches and a killed worker's next attempt resumes after the last
committed batch; the rows before it are read again only to remember their keys. An atomic import
switches its staged rows in within the job's final transaction: all of them land with `succeeded`,
or none.
"""

from __future__ import annotations

import itertools
import uuid

from schemas.imports import ROW_SCHEMAS
from services.errors import DomainError
from services.imports import log, products, reading, staging, stock
from services.imports.columns import match_headers
from services.imports.numbers import detect_decimal_separator
from services.imports.validation import DECIMAL_FIELDS, Fingerprints, RowValidator
from services.storage import open_storage
from tasks.base import job_task
from tasks.context import JobCancelled, JobContext

DETECT_ROWS = 1000  # rows the decimal separator is detected on
DELIMITER_NAMES = {"tab": "\t"}


@job_task("imports.run", soft_time_limit=3600, time_limit=3660)
def run(job: JobContext, payload: dict) -> dict:
    import_id = uuid.UUID(payload["import_id"])
    settings = job.runtime.settings
    with job.read() as session:
        record = log.get(session, import_id)
        session.expunge(record)
    options = {**record.options, "delimiter": DELIMITER_NAMES.get(record.options.get("delimiter"),
                                                                 record.options.get("delimiter"))}
    with open_storage(settings).open(record.storage_key) as stream:
        source = reading.open_rows(stream, record.file_name, options)
        match = match_headers(record.kind, source.headers)
        sample, rows = _peek(source.rows, DETECT_ROWS)
        separator = options.get("decimal_separator") or detect_decimal_separator(
            [values[index] for _, values in sample for name, index in match.positions.items()
             if name in DECIMAL_FIELDS and index < len(values)])
        header_of = {name: source.headers[index] for name, index in match.positions.items()}
        validator = RowValidator(record.kind, ROW_SCHEMAS[record.kind](decimal_separator=separator), match.positions,
                                  header_of, quoted_formulas=source.details["format"] == "csv")
        if job.checkpoint is None:
            with job.step({"row": 1}, done=0, message="reading") as session:
                log.begin_run(session, import_id, headers=source.headers, columns=header_of,
                              unknown=match.unknown, details={**source.details, "decimal_separator": separator})
        importer = ImportRun(job, import_id, record, header_of)
        try:
            if (job.checkpoint or {}).get("phase") != "switch":
                importer.rows(validator, rows, settings.import_batch_rows)
            if record.options.get("atomic") and record.mode == "apply":
                return importer.switch_in(validator, settings.import_batch_rows)
        except JobCancelled:
            importer.discard_staged()
            raise
    return log.finish(job.session, import_id, importer.tally)


class ImportRun:
    def __init__(self, job: JobContext, import_id: uuid.UUID, record, header_of: dict):
        self.job, self.import_id, self.record = job, import_id, record
        self.atomic = record.options.get("atomic") and record.mode == "apply"
        self.write = record.mode == "apply" and not self.atomic
        with job.read() as session:
            self.tally = log.Tally(log.get(session, import_id), header_of)
            self.categories = (products.Categories(session, record.options.get("create_categories", True))
                               if record.kind == "products" else None)

    def rows(self, validator: RowValidator, rows, batch_rows: int) -> None:
        done = self.job.checkpoint["row"]
        checked = (validator.check(number, values) for number, values in rows)
        for batch in _batches(checked, batch_rows):
            batch = [row for row in batch if row.number > done]  # before the checkpoint: keys remembered only
            if not batch:
                continue
            with self.job.step({"row": batch[-1].number}, done=self.tally.rows_read + len(batch),
                               message=f"row {batch[-1].number}") as session:
                self._plan(session, batch, write=self.write)
                if self.atomic:
                    staging.stage(session, self.import_id, batch)
                self.tally.save(session, self.import_id, self.tally.add(batch))
        if self.atomic:
            with self.job.step({"row": done, "phase": "switch"}, message="switching in") as session:
                if self.tally.counts["error"]:
                    staging.clear(session, self.import_id)
            if self.tally.counts["error"]:
                raise DomainError("the file has rows in error; an atomic import writes none of its rows",
                                  code="import_has_errors", details={"counts": self.tally.counts})

    def switch_in(self, validator: RowValidator, batch_rows: int) -> dict:
        """Every staged row, planned again against the catalogue and written, in the job's final transaction."""
        session = self.job.session
        self.tally.counts.update(new=0, update=0, skip=0)
        self.tally.samples.update(new=[], update=[], skip=[])
        validator.seen = {name: Fingerprints() for name in validator.seen}
        for staged in staging.staged(session, self.import_id, batch_rows):
            batch = [validator.check(number, values) for number, values in staged]
            self._plan(session, batch, write=True)
            failed = [row for row in batch if row.outcome == "error"]
            if failed:
                raise DomainError("a row no longer fits the catalogue; an atomic import writes none of its rows",
                                  code="import_has_errors",
                                  details={"row": failed[0].number, "column": failed[0].column,
                                           "message": failed[0].message})
            self.tally.add(batch)
            self.tally.rows_read -= len(batch)  # counted when they were staged
            self.job.raise_if_stopped()
        staging.clear(session, self.import_id)
        return log.finish(session, self.import_id, self.tally)

    def discard_staged(self) -> None:
        """A cancelled atomic import leaves nothing behind (the catalogue was never touched)."""
        if self.atomic:
            self.job.close()
            with self.job.db.Session.begin() as session:
                staging.clear(session, self.import_id)

    def _plan(self, session, batch: list, *, write: bool) -> None:
        options = self.record.options
        if self.record.kind == "products":
            products.plan_and_write(session, batch, on_existing=options["on_existing"], categories=self.categories,
                                    write=write)
        else:
            stock.plan_and_write(session, batch, branch_id=self.record.branch_id, on_existing=options["on_existing"],
                                 reference=f"import:{self.import_id}", user_id=self.record.owner_id, write=write)


def _peek(rows, count: int):
    head = list(itertools.islice(rows, count))
    return head, itertools.chain(head, rows)


def _batches(rows, size: int):
    while batch := list(itertools.islice(rows, size)):
        yield batch
