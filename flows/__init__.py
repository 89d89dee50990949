"""e-KTP recording monitor for an area of kab/kota (by default Kabupaten OKU Selatan, 16.09).

Pipeline stages, one module each, as plain functions (docs/architecture.md):
settings -> landing (list, open once) -> discover (plan) -> read (parse) -> validate (GX) ->
pseudonym -> load (fetch, prepare, write) -> warehouse (models, checks) -> publish (analysts' copy,
backups) -> report / artifact / summary. Around them: migrate (key proof, upgrades), query (the
analysts' sandbox), rejects, escape, errors, dates, files, wilayah (the region list), demo.
Beside them, the package ``synth`` writes synthetic landing zones (``ektp generate``, ``ektp demo``).

Prefect is imported only by ``pipeline`` (flows and tasks), ``deploy`` (deployments) and
``parallel`` (the Dask runner); ``cli`` is the ``ektp`` command, a thin layer over the others.
"""
