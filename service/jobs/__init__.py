"""Background jobs: a file translated behind interactive traffic, surviving restarts, shared by replicas.

``model`` (what a job is), ``store`` / ``store_postgres`` (jobs at rest, with leases), ``runner`` (each
replica's claim-translate-save loop), ``manager`` (the API's use cases); the route is ``service/routes/jobs.py``.
"""
