"""Reading a scenario: what the user wrote becomes a validated, frozen
:class:`~simulator.scenario.build.Scenario` or one error naming the key.

``reading`` hardens the YAML reader (no alias bombs, no duplicate keys, size
and depth caps) and checks Python mappings and override values the same way;
``schema`` holds every key as data (default, rule, description) and
validates a mapping against it; ``build`` loads a file or mapping, applies
the overrides (``--set``/``--sweep`` values) and the cross-key checks, and
builds the frozen dataclasses; ``rules`` are the value rules the schema is
written in; ``source``, ``priors``, ``patients`` and ``interim`` read the
forms of the ``source``, prior, patient-level and interim sections;
``reference`` writes the key reference and the template from the schema.
Nothing here computes a trial."""
