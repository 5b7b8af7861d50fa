"""SQLAlchemy models, one module per domain; importing this package registers them all."""

from models.base import Base
from models.jobs import FINISHED, Job, JobEvent, JobStatus
from models.users import Role, User

__all__ = ["Base", "FINISHED", "Job", "JobEvent", "JobStatus", "Role", "User"]
