"""Datasets: the bedrock-conversation-2024 files (files), their line-by-line validation (validation) and the
library of named datasets in the data directory (library)."""
