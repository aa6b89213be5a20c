"""API keys and per-key limits: who may call, how often, and how much.

``keys.py`` is the key store (SQLite under ``XLT_DATA_DIR``, salted hashes only); ``limits.py`` the per-process
token buckets and the day arithmetic of quotas; ``guard.py`` authenticates a presented key and charges quotas;
``deps.py`` holds the FastAPI dependencies and ``authenticate_request``, the one call other routes need.
"""
