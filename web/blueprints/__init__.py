"""The API's blueprints, one per domain."""
