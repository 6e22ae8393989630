"""The SuperCon dataset of Hamidieh (2018): 21,263 superconductors, their formulas, element
counts and critical temperatures (UCI ML Repository #464, thesis §3.3).

Where the files come from, in order (``context.data.find``):

1. ``unique_m_path`` / ``train_csv_path`` given in the study;
2. the data directory: ``supercon/unique_m.csv.gz`` or ``supercon/unique_m.csv`` (and
   ``supercon/train.csv`` for ``features: uci``), then the same under the cache;
3. online: UCI's ``superconduct.zip`` is downloaded into the cache;
4. otherwise a message naming the files and where to put them.

Wherever it was found (csv, csv.gz or the zip), the content of ``unique_m.csv`` must have the
pinned SHA-256 below, or the load is refused with the expected and found checksums. No
checksum of ``train.csv`` is published (and the file is not available here), so it is checked
against ``unique_m.csv`` row by row instead.

Splits (``split``): ``by-composition`` (default) puts every canonical composition — the
elements and their atom fractions, so ``Ir3La7``, ``La7Ir3`` and ``La0.7Ir0.3`` are one — on
one side; 21,263 rows hold 15,136 compositions (fractions to 4 decimals), and a random row
split would put a third of the test rows next to a training row of the same composition.
``random`` splits rows as Hamidieh and the thesis did. The bundle's description names the
split, and the samples carry each row's ``composition`` key.

``features: recomputed`` (default) gives the element-count matrix as inputs (86 columns, H … Rn,
named by symbol) for the ``hamidieh-features`` representation to turn into the 81 features;
``features: uci`` reads Hamidieh's own 81 features from ``train.csv`` (no representation needed).

Targets: ``critical_temp`` (K, regression); ``tc_coarse``, equal-count quantile classes fitted
on the training split; ``tc_fine``, fixed-width bins with an overflow class. Both
``critical_temp`` and ``tc_fine`` name ``tc_coarse`` as their parent (they refine it; the fine
bins are not nested in the quantile classes, since the quantile edges fall inside 2 K bins).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, DataCorruptError, Dataset, Table, TargetInfo
from workbench.datafiles import Download

from workbench_common.datasets import split_indices

from .elements import SYMBOLS, composition_keys
from .featurizer import FEATURE_NAMES
from .labels import FixedWidthBins, QuantileBins

N_MATERIALS = 21263
UCI_ZIP = Download(url="https://archive.ics.uci.edu/static/public/464/superconductivty+data.zip", filename="superconduct.zip")
# SHA-256 of the uncompressed unique_m.csv (shared/data/SOURCES.md §5.1).
UNIQUE_M_SHA256 = "0b65422da1a14170caf74b581c0ace565fb7d5ab817f74226c68ac48e2fffeec"
HOW_TO_GET = (
    "Get UCI dataset 464 'Superconductivty Data' (https://archive.ics.uci.edu/dataset/464), unzip it, and put "
    "unique_m.csv (formulas, element counts, Tc; gzip it or not) and, for `features: uci`, train.csv (Hamidieh's 81 "
    "features) into the data directory's supercon/ folder."
)


class SuperCon(Dataset):
    name = "supercon"
    summary = "Hamidieh's 21,263 superconductors (UCI #464): element counts or the 81 UCI features; Tc, 12 quantile classes, 2 K bins."

    class Params(workbench.Params):
        features: Literal["recomputed", "uci"] = Field(
            default="recomputed",
            description="recomputed: element counts as inputs (use the hamidieh-features representation); uci: the 81 features of train.csv",
        )
        unique_m_path: str | None = Field(default=None, description="explicit path to unique_m.csv(.gz) (null: search the data directory)")
        train_csv_path: str | None = Field(default=None, description="explicit path to UCI train.csv (only for features: uci)")
        coarse_bins: int = Field(default=12, ge=2, description="number of equal-count Tc classes of tc_coarse, fitted on the training split")
        fine_width: float = Field(default=2.0, gt=0, description="width in K of the tc_fine bins")
        fine_upper: float = Field(default=110.0, gt=0, description="Tc in K from which tc_fine's overflow class starts")
        fine_underflow_class: bool = Field(
            default=True,
            description="keep an (empty) class for Tc < 0 first, numbering tc_fine as the thesis does (57 classes: 0 empty, 1–55 bins, 56 overflow)",
        )
        split: Literal["by-composition", "random"] = Field(
            default="by-composition",
            description="by-composition: every canonical composition (elements and atom fractions; permuted or rescaled spellings of one "
                        "formula are one composition) lands in one split; random: rows at random, as Hamidieh and the thesis "
                        "(a third of the test rows then have their composition in train)",
        )
        composition_decimals: int = Field(
            default=4, ge=1, le=8, description="decimal places to which atom fractions are rounded when compositions are compared"
        )
        test_fraction: float = Field(default=0.2, gt=0, lt=1, description="fraction held out for test")
        validation_fraction: float = Field(default=0.1, ge=0, lt=1, description="fraction held out for validation")
        split_seed: int | None = Field(default=0, description="seed of the split (null: the cell's seed, so the split varies with it)")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{}]

    def fine_bins(self) -> FixedWidthBins:
        p = self.params
        return FixedWidthBins(p.fine_width, 0.0, p.fine_upper, underflow=p.fine_underflow_class)

    def describe_targets(self) -> dict[str, TargetInfo]:
        fine = self.fine_bins()
        coarse = tuple(f"coarse-{i}" for i in range(self.params.coarse_bins))
        return {
            "tc_coarse": TargetInfo("classification", coarse, "Tc in equal-count classes (quantiles of the training split)"),
            "tc_fine": TargetInfo("classification", fine.class_names("K"), f"Tc in {fine.width:g} K bins with overflow", parent="tc_coarse"),
            "critical_temp": TargetInfo("regression", None, "critical temperature Tc in K", parent="tc_coarse"),
        }

    # -- files ---------------------------------------------------------------------------------

    def _unique_m(self, context: CellContext) -> pd.DataFrame:
        p = self.params
        explicit = context.resolve_path(p.unique_m_path) if p.unique_m_path else None
        path = context.data.find(
            "SuperCon", ["supercon/unique_m.csv.gz", "supercon/unique_m.csv", "supercon/superconduct.zip", "superconduct.zip"],
            explicit=explicit, download=UCI_ZIP, how_to_get=HOW_TO_GET,
        )
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("unique_m.csv")]
                if not names:
                    raise DataCorruptError(f"{path} holds no unique_m.csv; {HOW_TO_GET}")
                raw = archive.read(names[0])
            frame = pd.read_csv(io.BytesIO(self._verified(raw, path)))
        else:
            try:
                raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            except (gzip.BadGzipFile, EOFError, OSError) as error:
                raise DataCorruptError(f"{path} cannot be read as unique_m.csv: {error}. {HOW_TO_GET}") from None
            frame = pd.read_csv(io.BytesIO(self._verified(raw, path)))
        expected = [*SYMBOLS, "critical_temp", "material"]
        if list(frame.columns) != expected or len(frame) != N_MATERIALS:
            raise DataCorruptError(
                f"{path} is not UCI's unique_m.csv: expected {N_MATERIALS} rows and the columns H … Rn, critical_temp, "
                f"material; found {len(frame)} rows and columns {list(frame.columns)[:4]}… ({len(frame.columns)} in all)"
            )
        return frame

    @staticmethod
    def _verified(raw: bytes, path) -> bytes:
        """The uncompressed unique_m.csv, if it is UCI's file byte for byte (whatever held it:
        a .csv, a .csv.gz, the UCI zip)."""
        found = hashlib.sha256(raw).hexdigest()
        if found != UNIQUE_M_SHA256:
            raise DataCorruptError(
                f"unique_m.csv in {path} is not UCI's file (SHA-256 of its content expected {UNIQUE_M_SHA256}, found {found}): "
                f"it is damaged or a different version. Delete it and put the original in its place: {HOW_TO_GET}"
            )
        return raw

    def _train_csv(self, context: CellContext, unique_m: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        explicit = context.resolve_path(p.train_csv_path) if p.train_csv_path else None
        path = context.data.find("SuperCon (Hamidieh's 81 features)", ["supercon/train.csv", "supercon/superconduct.zip", "superconduct.zip"],
                                 explicit=explicit, download=UCI_ZIP, how_to_get=HOW_TO_GET)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("train.csv")]
                if not names:
                    raise DataCorruptError(f"{path} holds no train.csv; {HOW_TO_GET}")
                frame = pd.read_csv(io.BytesIO(archive.read(names[0])))
        else:
            frame = pd.read_csv(path)
        # No checksum of train.csv is published; check it against unique_m.csv row by row instead.
        expected = [*FEATURE_NAMES, "critical_temp"]
        if list(frame.columns) != expected or len(frame) != N_MATERIALS:
            raise DataCorruptError(f"{path} is not UCI's train.csv: expected {N_MATERIALS} rows and columns {expected[:3]}…critical_temp")
        counted = (unique_m[list(SYMBOLS)].to_numpy() > 0).sum(axis=1)
        if not (np.allclose(frame["critical_temp"], unique_m["critical_temp"]) and np.array_equal(frame["number_of_elements"], counted)):
            raise DataCorruptError(f"{path} does not match unique_m.csv row by row (Tc or number of elements differ); use the two files of one UCI download")
        return frame

    # -- loading -------------------------------------------------------------------------------

    def load(self, context: CellContext) -> Bundle:
        p = self.params
        unique_m = self._unique_m(context)
        tc = unique_m["critical_temp"].to_numpy(dtype=np.float64)
        if p.features == "uci":
            inputs = self._train_csv(context, unique_m)[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
            feature_names = FEATURE_NAMES
        else:
            inputs = unique_m[list(SYMBOLS)].to_numpy(dtype=np.float64)
            feature_names = SYMBOLS
        seed = p.split_seed if p.split_seed is not None else context.derive_seed("supercon-split")
        compositions = composition_keys(unique_m[list(SYMBOLS)].to_numpy(dtype=np.float64), SYMBOLS, p.composition_decimals)
        groups = compositions if p.split == "by-composition" else None
        train, validation, test = split_indices(len(unique_m), np.random.default_rng(seed), p.test_fraction, p.validation_fraction, groups)
        if p.split == "by-composition":
            how = (f"by composition (seed {seed}; {len(np.unique(compositions))} compositions, atom fractions to "
                   f"{p.composition_decimals} decimals, each on one side)")
        else:
            how = f"random rows (seed {seed}; compositions may repeat across splits)"

        coarse = QuantileBins.fit(tc[train], p.coarse_bins)  # bins from the training split only
        fine = self.fine_bins()
        targets = {"critical_temp": tc, "tc_coarse": coarse.assign(tc), "tc_fine": fine.assign(tc)}
        described = self.describe_targets()
        infos = dict(described)
        infos["tc_coarse"] = TargetInfo("classification", coarse.class_names("K"), described["tc_coarse"].description)
        samples = unique_m[["material"]].assign(row=np.arange(len(unique_m)), composition=compositions)
        table = Table(inputs, targets, samples)
        return Bundle(
            train=table.take(train),
            validation=table.take(validation) if len(validation) else None,
            evaluations={"test": table.take(test)},
            targets=infos,
            feature_names=feature_names,
            description=f"SuperCon (Hamidieh 2018), {p.features} features; split: {how}: {len(train)} train, {len(validation)} validation, "
                        f"{len(test)} test",
        )
