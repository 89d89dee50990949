"""The kecamatan portal (contract section 11): `ektp portal`.

A small Starlette application served by uvicorn beside the pipeline. A kecamatan operator sends
the day's log and sees at once what to fix; the office sees every kecamatan and registers village
letters. It never imports Prefect or the pipeline's flows and never opens the writer's warehouse:
it reads the analysts' copy (read-only), the landing files and the feedback folder, and writes
only landing files (atomically) and its own store under ``<data_dir>/portal/`` (mode 700, files
mode 600).

Modules: ``accounts`` (users, password hashes, sessions, lockout), ``audit`` (the JSON-lines
audit log), ``checks`` (an upload or a letter checked with the pipeline's own reader and suites,
then written to its landing name), ``status`` (what the pages show: each log's status, feedback
files, backlog and pace), ``app`` (routes, CSRF, security headers, the size limit), ``admin``
(`ektp portal` and `ektp portal user ...`).
"""
