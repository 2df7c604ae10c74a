"""Running the pipeline with no AWS account: stand-ins for what moto does not provide (Slack, Batch events)."""
