"""The Celery side: the app, its settings, queues, beat schedule and signals."""
