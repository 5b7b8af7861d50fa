"""Domain logic: plain functions over a Session. They never commit; the caller owns the transaction."""
