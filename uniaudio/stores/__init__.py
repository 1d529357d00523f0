"""Everything passed between stages: URIs, the Delta token / quarantine / example stores and their
schemas, lineage records, and the exported-model format.

Layering (docs/ARCHITECTURE.md): ``uniaudio.stores`` imports nothing of ``pipelines``, ``workflows``
or the model; pipelines, training and generation all import it. Modules: :mod:`.uri`,
:mod:`.schema`, :mod:`.delta`, :mod:`.lineage`, :mod:`.tables`, :mod:`.exported`.
"""
