"""What is assumed about the world: Beta (mixture) priors on the rates and
effects, the population of women (strata, covariates, centres) and the
recruitment of centres over time.  Pure descriptions with their own
sampling and summary methods; they know nothing of designs or reports."""
