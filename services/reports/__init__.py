"""Reports on the shop chain: daily summaries per branch, low stock, the dashboard."""
