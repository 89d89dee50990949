"""What the pipeline gives people: the analysts' copy and sandbox, the report, feedback, summaries, artifacts."""
