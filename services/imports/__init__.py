"""Imports of catalogue and stock files: reading (formats, hostile files), columns (headers and aliases),
numbers, validation, the products and stock batches, bulk SQL, staging, and the import log."""
