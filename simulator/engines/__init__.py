"""What computes: the design and its decision table over all 2x2 outcomes,
exact power by enumeration, Monte Carlo power in seeded chunks, assurance
under priors, group-sequential operating characteristics and the
patient-level simulation.  Given a design, sizes and rates (or priors) they
return numbers; they never decide what to evaluate next."""
