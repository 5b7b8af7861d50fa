"""SQLAlchemy models, one module per domain; importing this package registers them all."""

from models.base import Base
from models.billing import Account, AccountKind, HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.flags import FeatureFlag
from models.identity import ExternalIdentity, LoginSession
from models.jobs import FINISHED, Job, JobEvent, JobStatus
from models.users import Role, User

__all__ = ["Account", "AccountKind", "Base", "ExternalIdentity", "FeatureFlag", "FINISHED", "HoldState", "Job",
           "JobEvent", "JobStatus", "LedgerOperation", "LoginSession", "Role", "Transfer", "TransferKind",
           "TransferStatus", "User"]
