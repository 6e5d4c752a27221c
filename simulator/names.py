"""What the tests are called in every output (tables, paragraph, reports)."""

TEST_NAMES = {
    "fisher": "Fisher's exact test",
    "z_pooled": "two-proportion z test (pooled variance)",
    "z_unpooled": "two-proportion z test (unpooled variance)",
    "chi2_yates": "chi-square test with Yates' continuity correction",
    "boschloo": "Boschloo's exact unconditional test",
    "barnard": "Barnard's exact unconditional test (pooled z ordering)",
    "bayesian": "a Bayesian rule (posterior probability that the treatment rate is higher)",
}

# in the columns of a comparison
SHORT_TEST_NAMES = {
    "fisher": "Fisher", "z_pooled": "z (pooled)", "z_unpooled": "z (unpooled)",
    "chi2_yates": "chi-square (Yates)", "boschloo": "Boschloo", "barnard": "Barnard",
    "bayesian": "Bayesian",
}
