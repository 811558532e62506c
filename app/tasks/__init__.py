"""Celery tasks: thin wrappers over services, one module per feature.

Every module here is imported by `app.celery_app.celery_init_app` (no list to update).
Durable work is declared with `app.services.jobs.job_task` and started with
`app.services.jobs.enqueue`; periodic tasks are listed in `schedule.PERIODIC_JOBS`.
"""
