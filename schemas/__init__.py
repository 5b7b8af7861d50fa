"""Marshmallow schemas, one module per domain: request validation, response shapes, the OpenAPI spec."""
