"""Where work runs and what is kept of it: chunks of simulated trials as
joblib tasks on loky processes or a dask cluster, the resumable chunk
cache, the guards against cluster and worker failures (``backends``), the
threads that share out exact evaluations (``threads``), and the progress bar
(``progress``).  Results never depend on where they ran."""
