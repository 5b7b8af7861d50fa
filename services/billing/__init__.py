"""Credit wallets on a double-entry ledger: the only way any code moves credits."""

from services.billing.holds import capture, expired_holds, hold, void
from services.billing.ledger import InsufficientFunds
from services.billing.reconcile import reconcile
from services.billing.wallets import (adjust, charge, grant_signup_bonus, refund, require_user, top_up, transfers_of,
                                      wallet)

__all__ = ["InsufficientFunds", "adjust", "capture", "charge", "expired_holds", "grant_signup_bonus", "hold",
           "reconcile", "refund", "require_user", "top_up", "transfers_of", "void", "wallet"]
