"""Parts of the embedded demo corpus builder (:mod:`pipelines.democorpus` is the entry point).

One module per source family: :mod:`~pipelines.demo.speech` (recorded prompts, synthetic voices,
styled speech for instructed TTS), :mod:`~pipelines.demo.music` (music21 scores rendered with
FluidSynth), :mod:`~pipelines.demo.sfx` (packaged sound effects), :mod:`~pipelines.demo.singing`
(festival's singing mode), :mod:`~pipelines.demo.pairs` (simulated pairs through
:mod:`pipelines.simulate`); :mod:`~pipelines.demo.common` holds the shared plumbing and
:mod:`~pipelines.demo.layouts` writes the folder layouts the readers in :mod:`pipelines.sources` read.
"""
