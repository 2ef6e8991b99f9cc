"""Snakemake and JVM glue only: Java discovery, Hail start-up (class-data sharing), the shared Hail session, and the
``script:`` entry-point helpers (:func:`callset.runtime.smk.run_hail`)."""
