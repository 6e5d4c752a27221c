"""What orchestrates: ``planners`` gives one planner per kind of design
(fixed 2x2, sequential, patient-level; ``assurance`` is the priors layer on
any of them), chosen once, with one small interface (power and assurance at
sizes, the search, the result); ``run`` runs a scenario's planner under the
configured backend; ``search`` is the sample-size search; ``sequential`` and
``patients`` hold what those planners use; ``sweep`` runs a sensitivity grid
of plans.  Naming rule: ``engines/X.py`` computes, ``planning/X.py``
orchestrates X."""
