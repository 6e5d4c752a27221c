"""Pure statistics, vectorised over tables or trials: p-values of the 2x2
tests, the adjusted analyses (Mantel-Haenszel, batched logistic
regression), Bayesian posterior and predictive probabilities, binomial
helpers and group-sequential boundaries.  No scenario, no I/O."""
