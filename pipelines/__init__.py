"""Stripe Sigma queries and Reporting API reports, landed in a warehouse by Dagster."""
