"""Reading a scenario: what the user wrote becomes a validated, frozen
:class:`~simulator.scenario.build.Scenario` or one error naming the key.

``build`` hardens the YAML reader (no aliases bombs, no duplicate keys, size
and depth caps), holds the schema as data, validates every value against its
rule, applies the cross-key checks and overrides (``--set``/``--sweep``
values), and builds the dataclasses; ``rules`` are the value rules the schema
is written in; ``source``, ``priors``, ``patients`` and ``interim`` read the
forms of the ``source``, prior, patient-level and interim sections.  Nothing
here computes a trial."""
