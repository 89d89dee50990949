"""e-KTP recording monitor for Kabupaten OKU Selatan.

Pipeline stages, one module each, as plain functions:
settings -> discover -> read -> validate -> pseudonym -> load -> models -> checks -> publish -> report.
`pipeline` is the only module that imports Prefect; `cli` is the `ektp` command.
"""
