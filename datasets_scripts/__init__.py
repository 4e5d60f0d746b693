"""Training data: load, validate, format, split, report on and publish CodeGen-Deep/Diverse-style rows.

Entry point: ``python -m datasets_scripts.prepare --source deep --out data/deep``.
"""

from datasets_scripts.data import (
    REQUIRED_COLUMNS,
    SAMPLES,
    SPLITS,
    STUDY_SOURCES,
    DataValidationError,
    load_raw,
    problem_key,
    to_conversation,
    to_conversations,
)
from datasets_scripts.splits import grouped_resplit, leakage_report, split_by_column
from datasets_scripts.training_data import load_training_splits

__all__ = [
    "REQUIRED_COLUMNS",
    "SAMPLES",
    "SPLITS",
    "STUDY_SOURCES",
    "DataValidationError",
    "grouped_resplit",
    "leakage_report",
    "load_raw",
    "load_training_splits",
    "problem_key",
    "split_by_column",
    "to_conversation",
    "to_conversations",
]
