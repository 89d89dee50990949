"""The Prefect wiring (flows, tasks, deployments, the Dask runner) and the run steps they share."""
