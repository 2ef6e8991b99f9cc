"""Test and benchmark harnesses (not part of the product): cluster daemons, QC accuracy scoring, filter evaluation."""
