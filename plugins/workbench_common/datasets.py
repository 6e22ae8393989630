"""A dataset from any CSV file: pick feature and target columns, get a seeded (optionally
grouped) train/validation/test split. The quickest way to bring your own table to a study."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, DataCorruptError, Dataset, Table, TargetInfo


def split_indices(
    n: int,
    rng: np.random.Generator,
    test_fraction: float,
    validation_fraction: float,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test indices. With ``groups``, all samples of a group land in the same
    split (so a repeated material or molecule cannot leak from train into test)."""
    if groups is None:
        units = rng.permutation(n)
        unit_of = None
    else:
        uniques, unit_of = np.unique(groups, return_inverse=True)
        units = rng.permutation(len(uniques))
    n_units = len(units)
    n_test = int(round(test_fraction * n_units))
    n_val = int(round(validation_fraction * n_units))
    test_units, val_units = units[:n_test], units[n_test : n_test + n_val]
    train_units = units[n_test + n_val :]
    if unit_of is None:
        return np.sort(train_units), np.sort(val_units), np.sort(test_units)
    rank = np.empty(n_units, dtype=np.int64)
    rank[units] = np.arange(n_units)
    position = rank[unit_of]
    train = np.flatnonzero(position >= n_test + n_val)
    val = np.flatnonzero((position >= n_test) & (position < n_test + n_val))
    test = np.flatnonzero(position < n_test)
    return train, val, test


def _lines(rows: np.ndarray, shown: int = 5) -> str:
    """File line numbers of data rows (the header is line 1)."""
    text = ", ".join(str(int(r) + 2) for r in rows[:shown])
    return text + (", ..." if len(rows) > shown else "")


def _numbers(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    """A column as floats; a value that is not a number is refused with its line and value
    (empty cells become NaN)."""
    values = frame[column]
    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        first = bad[0]
        raise ComponentError(f"csv-table: {path}, line {first + 2}, column {column!r}: {values.iloc[first]!r} is not a number "
                             f"({len(bad)} such value{'s' if len(bad) > 1 else ''}, lines {_lines(bad)}). Fix the file, or leave the "
                             "column out of `features`.")
    return converted.to_numpy(dtype=np.float64)


class CsvTable(Dataset):
    name = "csv-table"
    summary = "Any CSV file: chosen feature and target columns, seeded (optionally grouped) train/validation/test split."

    class Params(workbench.Params):
        path: str = Field(description="CSV file; relative paths are relative to the study file")
        targets: dict[str, Literal["classification", "regression"]] = Field(
            min_length=1, description="target columns and their task"
        )
        features: list[str] | None = Field(default=None, description="feature columns (null: every numeric column that is not a target, id or group)")
        id_column: str | None = Field(default=None, description="column identifying samples (kept as metadata)")
        group_column: str | None = Field(default=None, description="samples sharing this column's value stay in one split")
        test_fraction: float = Field(default=0.2, ge=0, lt=1, description="fraction of samples (or groups) held out for test")
        validation_fraction: float = Field(default=0.0, ge=0, lt=1, description="fraction held out for validation")
        split_seed: int | None = Field(default=0, description="seed of the split (null: the cell's seed, so the split varies with it)")
        sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$",
                                   description="the file's sha256; when given, a file with other content is refused")

    @classmethod
    def contract_params(cls) -> list[dict]:
        from pathlib import Path

        sample = Path(__file__).parent / "data" / "esol_descriptors.csv"
        return [{"path": str(sample), "targets": {"measured_log_solubility": "regression"}, "id_column": "compound"}]

    def describe_targets(self) -> dict[str, TargetInfo]:
        return {name: TargetInfo(task) for name, task in self.params.targets.items()}

    def load(self, context: CellContext) -> Bundle:
        p = self.params
        path = context.resolve_path(p.path)
        if not path.is_file():
            raise workbench.DataNotFoundError(f"csv-table: {path} does not exist. Fix `path` in the study (relative paths start at the study file's folder).")
        if p.sha256 is not None:
            from workbench.datafiles import verify_checksum

            verify_checksum(path, sha256=p.sha256)
        context.data.digest(path)  # recorded with the cell's result
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, ValueError) as error:
            raise DataCorruptError(f"csv-table: {path} cannot be read as CSV: {error}") from None
        needed = list(p.targets) + (p.features or []) + [c for c in (p.id_column, p.group_column) if c]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ComponentError(f"csv-table: {path} has no column(s) {missing}; its columns are {list(frame.columns)}")
        reserved = set(p.targets) | {p.id_column, p.group_column}
        if p.features is not None:
            features = list(p.features)
        else:
            features, text = [], []
            for column in (c for c in frame.columns if c not in reserved):
                values = frame[column]
                converted = pd.to_numeric(values, errors="coerce")
                if converted.notna().any() or values.isna().all():
                    features.append(column)  # numeric (a stray non-number is refused below)
                else:
                    text.append(column)
            if text:
                context.note(f"csv-table: column(s) {', '.join(map(repr, text))} of {path.name} hold no numbers and are not used "
                             "as features (list `features` to choose the columns yourself)")
        inputs = np.column_stack([_numbers(frame, column, path) for column in features]) if features else np.zeros((len(frame), 0))
        empty = {c: np.flatnonzero(~np.isfinite(inputs[:, i])) for i, c in enumerate(features) if not np.isfinite(inputs[:, i]).all()}
        if empty:
            detail = "; ".join(f"{c!r}: {len(rows)} empty or infinite (lines {_lines(rows)})" for c, rows in empty.items())
            raise ComponentError(f"csv-table: {path} has missing feature values — {detail}. Fill them in, or leave those columns "
                                 "out of `features`.")

        infos: dict[str, TargetInfo] = {}
        targets: dict[str, np.ndarray] = {}
        for name, task in p.targets.items():
            column = frame[name]
            if task == "classification":
                classes = sorted(column.dropna().astype(str).unique())
                codes = column.astype(str).map({c: i for i, c in enumerate(classes)})
                targets[name] = np.where(column.isna(), np.nan, codes.to_numpy(dtype=np.float64))
                infos[name] = TargetInfo(task, tuple(classes))
            else:
                targets[name] = _numbers(frame, name, path)  # empty cells become NaN: left out of training and scoring, with a note
                infos[name] = TargetInfo(task)
        meta_columns = [c for c in (p.id_column, p.group_column) if c]
        samples = frame[meta_columns].reset_index(drop=True) if meta_columns else None
        table = Table(inputs, targets, samples)
        rng = np.random.default_rng(p.split_seed if p.split_seed is not None else context.derive_seed("split"))
        groups = frame[p.group_column].to_numpy() if p.group_column else None
        train, val, test = split_indices(len(frame), rng, p.test_fraction, p.validation_fraction, groups)
        if len(test) == 0:
            raise ComponentError("csv-table: the test split is empty; raise test_fraction")
        return Bundle(
            train=table.take(train),
            validation=table.take(val) if len(val) else None,
            evaluations={"test": table.take(test)},
            targets=infos,
            feature_names=tuple(features),
            description=f"{path.name}: {len(frame)} rows, {len(features)} features",
        )
