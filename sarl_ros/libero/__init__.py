"""LIBERO-10 as a semantic environment: the scenes run in a worker process of the LIBERO venv."""
