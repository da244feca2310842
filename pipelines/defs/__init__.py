"""This project's own Dagster defs folder: ``stripe_reports/defs.yaml`` configures the component."""
