"""SQLAlchemy models, one module per domain; importing this package registers them all."""

from models.api_keys import ApiKey
from models.base import Base
from models.billing import Account, AccountKind, HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.customers import Customer
from models.exports import Export, ExportFormat, ExportKind, ExportStatus
from models.flags import FeatureFlag
from models.identity import ExternalIdentity, LoginSession
from models.imports import Import, ImportRowError, ImportStagedRow
from models.jobs import FINISHED, Job, JobEvent, JobStatus
from models.llm import Character, ChatMessage, ChatSession, LlmCall, MessageRole, ModerationFlag
from models.market import MarketProduct, ProductKind, Purchase, PurchaseStatus, RefusedPaymentEvent
from models.orders import Order, OrderChannel, OrderItem, OrderStatus
from models.point_of_sale import (DocumentCounter, DocumentKind, Invoice, PaymentMethod, Sale, SaleItem, SalePayment,
                                  SaleStatus)
from models.reports import DailySummary, InvoicePdf, LowStockEvent
from models.sales import Branch, Category, InventoryMovement, MovementReason, Product, Stock
from models.subscriptions import Period, Subscription, SubscriptionStatus, Tier
from models.usage import UsageDaily, UsageRollupState, UsageTierDaily
from models.users import Role, User

__all__ = ["Account", "AccountKind", "ApiKey", "Base", "Branch", "Category", "Character", "ChatMessage", "ChatSession",
           "Customer", "DailySummary", "DocumentCounter", "DocumentKind", "Export", "ExportFormat", "ExportKind",
           "ExportStatus", "ExternalIdentity", "FeatureFlag", "FINISHED", "HoldState", "Import", "ImportRowError",
           "ImportStagedRow", "InventoryMovement", "Invoice", "InvoicePdf", "Job", "JobEvent", "JobStatus",
           "LedgerOperation", "LlmCall", "LoginSession", "LowStockEvent", "MarketProduct", "MessageRole",
           "ModerationFlag", "MovementReason", "Order", "OrderChannel", "OrderItem", "OrderStatus", "PaymentMethod",
           "Period", "Product", "ProductKind", "Purchase", "PurchaseStatus", "RefusedPaymentEvent", "Role", "Sale",
           "SaleItem", "SalePayment", "SaleStatus", "Stock", "Subscription", "SubscriptionStatus", "Tier", "Transfer",
           "TransferKind", "TransferStatus", "UsageDaily", "UsageRollupState", "UsageTierDaily", "User"]
