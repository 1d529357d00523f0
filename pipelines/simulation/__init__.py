"""Building blocks of the paired-data simulation; the public entry point is :mod:`pipelines.simulate`.

``mixing`` (SE / TSE mixtures, enrolment choice), ``reverb`` (RIRs, dereverberation pairs), ``edits``
(audio edit, speech-edit spans), ``config`` (settings), ``driver`` (wav + manifest writer),
``recipes`` (per-row recipes chosen by name, e.g. ``bandlimit``; ``uniaudio simulate``).
"""
