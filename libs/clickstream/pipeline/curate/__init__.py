"""The steps of curate_events, one module per rule; clickstream.pipeline.curate_events runs them."""
