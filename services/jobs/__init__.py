"""The job lifecycle: submit, read, cancel, claim, steps, finish, retry, children, and beat's repairs."""

from services.jobs.lifecycle import (Claim, LeaseLost, child_ended, claim, commit_step, finish, renew,
                                     save_progress, schedule_retry, wait_for_children)
from services.jobs.queries import cancel, children_of, events_of, get, list_for
from services.jobs.repairs import count_undelivered, delete_finished_before, reap_expired_leases, take_undelivered
from services.jobs.submission import fingerprint, mark_undispatched, submit

__all__ = ["Claim", "LeaseLost", "cancel", "child_ended", "children_of", "claim", "commit_step",
           "count_undelivered", "delete_finished_before", "events_of", "finish", "fingerprint", "get", "list_for", "mark_undispatched",
           "reap_expired_leases", "renew", "save_progress", "schedule_retry", "submit", "take_undelivered",
           "wait_for_children"]
