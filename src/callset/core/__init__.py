"""Shared by every stage, no Spark: the reference genome, the cohort layout, logging, private files."""
