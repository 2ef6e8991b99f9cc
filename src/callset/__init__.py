"""callset: genome-center gVCF batches -> Hail VariantDataset -> released, sharded joint callset."""

__version__ = "0.1.0"
