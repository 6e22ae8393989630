"""The ESOL dataset (Delaney 2004) extended with PubChem-style properties and GHS hazard labels,
as in thesis §2.3.1.

ESOL ships inside this package (``data/delaney-processed.csv``, 1,128 molecules), so the
solubility task works offline. The hazard labels come from the data directory
(``ghs/esol_ghs_labels.csv``, 443 labelled molecules, see shared/data/SOURCES.md §4) — their
Wikipedia/Japan/Korea-derived part is CC BY-SA, so it is not shipped here — or, with
``source: pubchem``, from PubChem itself.

Splits (``split``, see ``splits``): ``random`` (default; seeded by ``split_seed``) keeps
molecules with one canonical SMILES together; ``scaffold`` is MoleculeNet's Bemis–Murcko
scaffold split. The bundle's description says which split was used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, DataCorruptError, Dataset, Table, TargetInfo

from .properties import PROPERTY_FIELDS, PROPERTY_NAMES
from .pubchem import GHS_PICTOGRAMS, PUG_PROPERTIES, PubChemClient
from .splits import random_split, scaffold_split

PACKAGED_ESOL = Path(__file__).parent / "data" / "delaney-processed.csv"
ESOL_SHA256 = "2f46eb304df163b0d885530055d0692ed1b67b9467d4bef0ebf9506a8721af85"
GHS_LABELS = "ghs/esol_ghs_labels.csv"
GHS_SHA256 = "4b6b3cc8e53d50fa0ed534e077aa4e1882e586dd28df0bb29ac7a6ac1824d53b"

SOLUBILITY = "log_solubility"
HAZARDS: dict[str, str] = {
    # target name → column of esol_ghs_labels.csv; Health Hazard first, as in thesis Fig. 2.3
    "health_hazard": "HealthHazard",
    "irritant": "Irritant",
    "flammable": "Flammable",
    "environmental_hazard": "EnvironmentalHazard",
    "acute_toxic": "AcuteToxic",
    "corrosive": "Corrosive",
}
# PubChem field → our column, for the properties PUG REST provides; the rest stay RDKit's.
PUBCHEM_COLUMNS: dict[str, str] = {field: column for column, field in PROPERTY_FIELDS.items() if field in PUG_PROPERTIES}


def read_esol(path: Path = PACKAGED_ESOL, sha256: str | None = ESOL_SHA256) -> tuple[pd.DataFrame, list, list[str]]:
    """ESOL rows whose SMILES RDKit parses (names and SMILES stripped), their molecules, and
    a description of every row dropped. The file must have the SHA-256 ``sha256`` (MoleculeNet's
    ``delaney-processed.csv``; None skips the check, for tests of the cleaning)."""
    from .descriptors import parse_smiles

    if sha256 is not None:
        found = hashlib.sha256(path.read_bytes()).hexdigest()
        if found != sha256:
            raise DataCorruptError(
                f"esol: {path} is not MoleculeNet's delaney-processed.csv (SHA-256 expected {sha256}, found {found}); "
                "reinstall workbench to restore the packaged copy"
            )
    frame = pd.read_csv(path)
    frame["Compound ID"] = frame["Compound ID"].astype(str).str.strip()
    frame["smiles"] = frame["smiles"].astype(str).str.strip()
    frame["esol_row"] = np.arange(len(frame))
    mols = parse_smiles(frame["smiles"].tolist())
    ok = np.array([m is not None for m in mols])
    dropped = [f"row {r} {name!r} ({smi})" for r, name, smi in frame.loc[~ok, ["esol_row", "Compound ID", "smiles"]].itertuples(index=False)]
    return frame[ok].reset_index(drop=True), [m for m in mols if m is not None], dropped


class Esol(Dataset):
    name = "esol"
    summary = "ESOL (1,128 molecules): ~15 PubChem-style properties, log solubility and six GHS hazard labels (thesis §2.3.1)."

    class Params(workbench.Params):
        source: Literal["rdkit", "pubchem"] = Field(
            default="rdkit",
            description="rdkit: properties computed offline and hazard labels from the data directory; "
                        "pubchem: properties and GHS pictograms fetched from PubChem (rate-limited, cached on disk)",
        )
        labels: Literal["all", "solubility"] = Field(default="all", description="all: solubility and the six hazards; solubility: only log solubility (needs no data directory)")
        hazard_labels_path: str | None = Field(default=None, description="explicit path of esol_ghs_labels.csv (default: ghs/ in the data directory)")
        split: Literal["random", "scaffold"] = Field(
            default="random",
            description="random: seeded split of structures (molecules with one canonical SMILES stay together); scaffold: "
                        "MoleculeNet's Bemis–Murcko scaffold split (largest scaffold groups to train; deterministic, no seed)",
        )
        test_fraction: float = Field(default=0.2, gt=0, lt=1, description="fraction of molecules held out for test")
        validation_fraction: float = Field(default=0.0, ge=0, lt=1, description="fraction of molecules held out for validation")
        split_seed: int | None = Field(default=0, description="seed of the random split (null: the cell's seed, so the split varies with it); "
                                                              "a grid axis over it gives several random splits")
        pubchem_rate: float = Field(default=4.0, gt=0, le=5, description="PubChem requests per second (PubChem allows at most 5)")
        pubchem_retries: int = Field(default=4, ge=0, description="retries of a PubChem request that failed transiently")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"labels": "solubility"}]

    def describe_targets(self) -> dict[str, TargetInfo]:
        targets = {SOLUBILITY: TargetInfo("regression", description="measured log10 solubility in mol/L (Delaney 2004)")}
        if self.params.labels == "all":
            for name, column in HAZARDS.items():
                targets[name] = TargetInfo("classification", ("no", "yes"), description=f"GHS pictogram {column}; missing where unknown")
        return targets

    def load(self, context: CellContext) -> Bundle:
        p = self.params
        context.data.digest(PACKAGED_ESOL)  # recorded with the cell's data files (read_esol checks it)
        frame, mols, dropped = read_esol()
        if dropped:
            context.note(f"esol: RDKit cannot parse {len(dropped)} molecule(s), dropped: {'; '.join(dropped)}")
        # ~2 s of RDKit per load; every cell of a study loads, so the table is cached.
        import rdkit

        from .descriptors import compute_properties

        key = {"esol_sha256": ESOL_SHA256, "rows": frame["esol_row"].to_numpy(), "properties": list(PROPERTY_NAMES), "rdkit": rdkit.__version__}
        computed = context.cache.arrays("esol-properties", key, lambda: {"properties": compute_properties(mols)})["properties"]
        properties = pd.DataFrame(computed, columns=list(PROPERTY_NAMES))
        hazards = None
        if p.source == "pubchem":
            properties, hazards, missing = self._pubchem(frame, properties, context)
            keep = ~missing
            if missing.any():
                context.note(f"esol: PubChem has no record or incomplete properties for {int(missing.sum())} molecule(s), "
                             f"dropped: {', '.join(frame.loc[missing, 'Compound ID'])}")
            frame, properties, hazards = (x[keep].reset_index(drop=True) for x in (frame, properties, hazards))
            mols = [mol for mol, kept in zip(mols, keep) if kept]
        targets = {SOLUBILITY: frame["measured log solubility in mols per litre"].to_numpy(dtype=np.float64)}
        if p.labels == "all":
            if hazards is None:
                hazards = self._hazard_labels(frame, context)
            targets.update({name: hazards[name].to_numpy(dtype=np.float64) for name in HAZARDS})
        samples = frame[["esol_row", "Compound ID", "smiles"]].rename(columns={"Compound ID": "compound"})
        table = Table(properties, targets, samples)
        train, validation, test, how = self._split(mols, context)
        return Bundle(
            train=table.take(train),
            validation=table.take(validation) if len(validation) else None,
            evaluations={"test": table.take(test)},
            targets=self.describe_targets(),
            feature_names=PROPERTY_NAMES,
            description=f"ESOL: {len(frame)} molecules ({len(dropped)} unparseable dropped), {len(PROPERTY_NAMES)} {p.source} properties; "
                        f"split: {how}: {len(train)} train, {len(validation)} validation, {len(test)} test",
        )

    def _split(self, mols: list, context: CellContext) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """Train, validation and test rows, and a sentence saying how they were made."""
        from .descriptors import canonical_smiles, murcko_scaffolds

        p = self.params
        if p.split == "scaffold":
            scaffolds = murcko_scaffolds(mols)
            train, validation, test = scaffold_split(scaffolds, p.test_fraction, p.validation_fraction)
            kept = set(np.asarray(scaffolds)[train])
            shared = len({scaffolds[i] for i in np.r_[validation, test]} & kept)
            if shared:  # an oversized group is never split, so this cannot happen; guard the invariant anyway
                raise ComponentError(f"esol: {shared} scaffold(s) on both sides of the scaffold split")
            return train, validation, test, f"Bemis–Murcko scaffold (MoleculeNet; {len(set(scaffolds))} scaffolds, deterministic)"
        # Grouped by canonical SMILES: eleven structures appear twice in ESOL (mannitol and
        # sorbitol, stereoisomers written alike; the same compound under two names); both
        # copies go to the same side of the split.
        structures = canonical_smiles(mols)
        seed = p.split_seed if p.split_seed is not None else context.derive_seed("split")
        train, validation, test = random_split(structures, seed, p.test_fraction, p.validation_fraction)
        return train, validation, test, f"random (seed {seed}) over {len(set(structures))} distinct structures (canonical SMILES)"

    def _hazard_labels(self, frame: pd.DataFrame, context: CellContext) -> pd.DataFrame:
        """The six labels per kept ESOL row: 0/1 where known, NaN where unknown."""
        path = context.data.find(
            "ESOL GHS hazard labels", [GHS_LABELS], explicit=self.params.hazard_labels_path, sha256=GHS_SHA256,
            how_to_get="It is derived from PubChem and other GHS sources (docs/molecules.md, dataset esol); "
                       "or use `labels: solubility`, or `source: pubchem` to fetch pictograms from PubChem.",
        )
        try:
            labels = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise DataCorruptError(f"esol: {path} cannot be read as CSV: {error}") from None
        absent = [c for c in ["esol_row", *HAZARDS.values()] if c not in labels.columns]
        if absent:
            raise DataCorruptError(f"esol: {path} lacks the column(s) {absent}")
        labels = labels.set_index("esol_row").reindex(frame["esol_row"].to_numpy())
        # Empty cells mean "no GHS data found", never "not hazardous": they stay NaN.
        return pd.DataFrame({name: pd.to_numeric(labels[column], errors="coerce").to_numpy() for name, column in HAZARDS.items()})

    def _pubchem(self, frame: pd.DataFrame, rdkit_properties: pd.DataFrame, context: CellContext):
        """PubChem properties (RDKit's for fields PUG REST lacks) and pictogram labels, and a
        mask of molecules PubChem cannot describe fully."""
        p = self.params
        client = PubChemClient(context.cache.root / "pubchem", rate=p.pubchem_rate, retries=p.pubchem_retries)
        properties = rdkit_properties.copy()
        hazards = pd.DataFrame(np.nan, index=frame.index, columns=list(HAZARDS))
        missing = np.zeros(len(frame), dtype=bool)
        with context.progress("PubChem", total=len(frame)) as bar:
            for i, smiles in enumerate(frame["smiles"]):
                record = client.properties(smiles)
                bar.advance(1)
                if record is None or any(f not in record for f in PUBCHEM_COLUMNS):
                    missing[i] = True
                    continue
                for field, column in PUBCHEM_COLUMNS.items():
                    properties.loc[i, column] = record[field]
                pictograms = client.ghs_pictograms(record["CID"])
                if pictograms is not None:
                    for picto, name in GHS_PICTOGRAMS.items():
                        hazards.loc[i, name] = float(picto in pictograms)
        if (missing.mean() if len(missing) else 0) > 0.5:
            raise ComponentError(f"esol: PubChem described only {int((~missing).sum())} of {len(frame)} molecules; check the network or use `source: rdkit`")
        return properties, hazards, missing
