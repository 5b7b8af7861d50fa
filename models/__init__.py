"""SQLAlchemy models, one module per domain; importing this package registers them all."""

from models.api_keys import ApiKey
from models.base import Base
from models.billing import Account, AccountKind, HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.customers import Customer
from models.flags import FeatureFlag
from models.identity import ExternalIdentity, LoginSession
from models.jobs import FINISHED, Job, JobEvent, JobStatus
from models.orders import Order, OrderChannel, OrderItem, OrderStatus
from models.point_of_sale import (DocumentCounter, DocumentKind, Invoice, PaymentMethod, Sale, SaleItem, SalePayment,
                                  SaleStatus)
from models.reports import DailySummary, InvoicePdf, LowStockEvent
from models.sales import Branch, Category, InventoryMovement, MovementReason, Product, Stock
from models.subscriptions import Period, Subscription, SubscriptionStatus, Tier
from models.users import Role, User

__all__ = ["Account", "AccountKind", "ApiKey", "Base", "Branch", "Category", "Customer", "DailySummary", "DocumentCounter",
           "DocumentKind", "ExternalIdentity", "FeatureFlag", "FINISHED", "HoldState", "InventoryMovement", "Invoice",
           "InvoicePdf", "Job", "JobEvent", "JobStatus", "LedgerOperation", "LoginSession", "LowStockEvent",
           "MovementReason", "Order", "OrderChannel", "OrderItem", "OrderStatus", "PaymentMethod", "Period", "Product", "Role",
           "Sale", "SaleItem", "SalePayment", "SaleStatus", "Stock", "Subscription", "SubscriptionStatus", "Tier", "Transfer", "TransferKind", "TransferStatus",
           "User"]
