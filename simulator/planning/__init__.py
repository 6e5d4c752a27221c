"""What orchestrates: ``run`` turns a scenario into a plan result (choosing
the engine, the sizes to evaluate, the search for the smallest size, the
assurance, the type I error and its Monte Carlo check); ``search`` is the
sample-size search; ``sequential`` and ``patients`` plan the group-sequential
and patient-level designs; ``sweep`` runs a sensitivity grid of plans.
Naming rule: ``engines/X.py`` computes, ``planning/X.py`` orchestrates X."""
