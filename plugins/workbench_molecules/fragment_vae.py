"""A fragment VAE in the spirit of FraGVAE (Armitage et al. 2019; thesis §2.2.2).

Two latent spaces, as in FraGVAE: Z_F encodes the bag of atom-centred fragments and Z_C how the
fragments connect (fragment pairs across bonds, ring sizes, ring fusion; see ``fragments``).
The fragment decoder reconstructs the bag from Z_F; the connectivity decoder reconstructs the
connectivity from [Z_F, Z_C] (connectivity is read given the fragments, as in FraGVAE). Counts
are reconstructed with a Poisson likelihood. The representation of a molecule is the pair of
posterior means [μ_F, μ_C].

Simplification, stated plainly: FraGVAE's encoders are graph networks and its decoders
rebuild the molecular graph; here both encoders read count vectors (bag of fragments, bag of
connections) through MLPs and the decoders rebuild those counts, not the graph.

Training (``_vae``): a one-cycle learning-rate schedule to convergence, a KL weight β warmed up
over the first third of the epochs, a free-bits floor per latent dimension so that no dimension
collapses to the prior, and a linear head from the posterior means to RDKit properties computed
from each corpus molecule's structure (by default every PubChem-style property of the ``esol``
dataset except Crippen logP and molar refractivity, which share Crippen's atom typing, and the
slow Bertz complexity). logP is left out on purpose: the quality report's linear probe for
Crippen logP then measures how well the latent carries a property it was not trained on.

The encoder is pretrained once per parameter set on a drug-like corpus (MOSES) and kept in
the cache, keyed by the parameters, the corpus file's content digest and the library versions;
pretraining reports the loss curve, reconstruction against a chance baseline, the logP probe,
and the latent dimensions that stay inactive.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

import workbench
from workbench import Bundle, CellContext, ComponentError, Representation, Table

from .datasets import ESOL_SHA256, read_esol
from .properties import PROPERTY_NAMES
from .representations import esol_contract_bundle, table_molecules

MOSES_TRAIN = "moses/train.csv.gz"
MOSES_SHA256 = "786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c"
RECORDED = ("logp_probe_r2", "fragment_count_mae", "fragment_count_mae_chance", "inactive_dimensions_esol")
HEAD_PROPERTIES = ["molecular_weight", "tpsa", "h_bond_donors", "h_bond_acceptors", "rotatable_bonds", "heavy_atoms",
                   "formal_charge", "rings", "aromatic_rings", "fraction_sp3", "stereocenters", "heteroatoms"]
INACTIVE_NATS = 0.01  # a latent dimension carrying less KL than this on average is inactive
FORMAT_VERSION = 2  # bump when the training code changes what a parameter set produces


class FragmentVAE(Representation):
    name = "fragment-vae"
    summary = "Fragment VAE in the spirit of FraGVAE (thesis §2.2.2): posterior means [Z_F, Z_C], pretrained on MOSES and cached."
    frameworks = ("torch",)

    class Params(workbench.Params):
        corpus: Literal["moses", "esol"] = Field(default="moses", description="pretraining molecules: a MOSES sample (data directory) or the packaged ESOL molecules (small; tests)")
        corpus_size: int = Field(default=100_000, ge=50, description="molecules drawn from the corpus (5% of them held out for the quality report)")
        vocabulary_size: int = Field(default=500, ge=8, description="most frequent atom-centred fragments kept (others count under their centre atom)")
        pair_bins: int = Field(default=512, ge=8, description="hash bins for fragment pairs across bonds")
        z_fragments: int = Field(default=96, ge=1, description="dimension of Z_F (bag of fragments)")
        z_connectivity: int = Field(default=32, ge=1, description="dimension of Z_C (connectivity)")
        hidden: int = Field(default=256, ge=8, description="width of the encoder and decoder MLPs")
        encoder_input: Literal["log", "counts"] = Field(default="log", description="what the encoders read: log(1 + counts) or the counts")
        epochs: int = Field(default=40, ge=1, description="pretraining epochs")
        batch_size: int = Field(default=128, ge=8, description="pretraining batch size")
        learning_rate: float = Field(default=1e-3, gt=0, description="Adam learning rate (the peak of the one-cycle schedule)")
        schedule: Literal["one-cycle", "constant"] = Field(
            default="one-cycle", description="learning rate: one-cycle (warm-up over 10% of the steps, then cosine decay to ~0) or constant"
        )
        beta: float = Field(default=0.02, ge=0, description="weight of the KL terms (after a linear warm-up)")
        warmup_fraction: float = Field(default=1 / 3, ge=0, le=1, description="fraction of the epochs over which β rises linearly to its value")
        free_bits: float = Field(default=0.1, ge=0, description="KL per latent dimension (nats, batch mean) below which it is not penalised (0: off)")
        property_head: list[str] = Field(
            default_factory=lambda: list(HEAD_PROPERTIES),
            description="RDKit properties (columns of the esol dataset) a linear head predicts from the posterior means during "
                        "pretraining ([]: no head); logp is left out by default so the logP probe tests transfer",
        )
        property_weight: float = Field(default=1.0, ge=0, description="weight of the property head's squared error (standardised units)")
        seed: int = Field(default=0, description="seed of the corpus sample and the training; fixed so every cell shares one pretrained encoder")
        add_targets: list[str] = Field(
            default_factory=list,
            description="targets appended as extra columns, as raw's add_targets (thesis §2.3.2 fairness; they count as seen labels)",
        )

        @field_validator("property_head")
        @classmethod
        def _known_properties(cls, value: list[str]) -> list[str]:
            unknown = [name for name in value if name not in PROPERTY_NAMES]
            if unknown:
                raise ValueError(f"unknown properties {unknown}; choose from {list(PROPERTY_NAMES)}")
            return value

    def seen_labels(self) -> frozenset[str]:
        return frozenset(self.params.add_targets)

    def _encoder_params(self) -> dict:
        """The parameters that determine the pretrained encoder (not the appended labels)."""
        return self.params.model_dump(exclude={"add_targets"})

    def _settings(self):
        from ._vae import Settings

        p = self.params
        return Settings(z_fragments=p.z_fragments, z_connectivity=p.z_connectivity, hidden=p.hidden, encoder_input=p.encoder_input,
                        epochs=p.epochs, batch_size=p.batch_size, learning_rate=p.learning_rate, schedule=p.schedule, beta=p.beta,
                        warmup_fraction=p.warmup_fraction, free_bits=p.free_bits, property_weight=p.property_weight, seed=p.seed)

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"corpus": "esol", "corpus_size": 200, "vocabulary_size": 50, "pair_bins": 32, "hidden": 32, "epochs": 2, "z_fragments": 3,
                 "z_connectivity": 2, "property_head": ["heavy_atoms", "rings"]}]

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        return esol_contract_bundle(rng)

    # -- pretraining ---------------------------------------------------------------------
    def _corpus(self, context: CellContext) -> tuple[list[str], str]:
        """The corpus' SMILES and the content digest of the file they come from."""
        p = self.params
        if p.corpus == "esol":
            smiles, digest = read_esol()[0]["smiles"].tolist(), ESOL_SHA256
        else:
            path = context.data.find("MOSES", [MOSES_TRAIN], sha256=MOSES_SHA256,
                                     how_to_get="MOSES is on PyPI (molsets) and GitHub (molecularsets/moses); or use `corpus: esol`.")
            smiles, digest = pd.read_csv(path)["SMILES"].tolist(), context.data.digest(path)
        if p.corpus_size < len(smiles):
            rows = np.random.default_rng(p.seed).choice(len(smiles), p.corpus_size, replace=False)
            smiles = [smiles[i] for i in np.sort(rows)]
        return smiles, digest

    def _pretrain(self, smiles: list[str], directory: Path, context: CellContext) -> None:
        from rdkit.Chem import Crippen

        from . import _vae
        from .descriptors import PROPERTY_FUNCTIONS, parse_smiles
        from .fragments import Featurizer

        p = self.params
        started = time.perf_counter()
        mols = [m for m in parse_smiles(smiles) if m is not None and m.GetNumAtoms() > 0]
        if len(mols) < len(smiles):
            context.note(f"fragment-vae: {len(smiles) - len(mols)} of {len(smiles)} corpus SMILES do not parse (or are empty) and were left out")
        order = np.random.default_rng(p.seed).permutation(len(mols))
        # 5% held out; at least a quarter (up to 500) of a small corpus, so the probe has data.
        n_hold = max(len(mols) // 20, min(len(mols) // 4, 500))
        hold, train = order[:n_hold], order[n_hold:]
        with context.progress("fragmenting corpus", total=len(mols)) as bar:
            vocabulary, F, C = _vae.featurize_corpus(mols, p.vocabulary_size, p.pair_bins, train, bar.advance)
        properties = None
        if p.property_head:
            with context.progress("corpus properties for the head", total=len(p.property_head)) as bar:
                columns = []
                for name in p.property_head:
                    columns.append([float(PROPERTY_FUNCTIONS[name](mol)) for mol in mols])
                    bar.advance(1)
            properties = np.asarray(columns, dtype=np.float64).T
        logp = np.array([Crippen.MolLogP(mols[i]) for i in hold])
        esol_F, esol_C = Featurizer(vocabulary, p.pair_bins)(read_esol()[1])
        prepared = time.perf_counter() - started
        with context.progress("pretraining fragment VAE", total=p.epochs) as bar:
            net, history = _vae.pretrain(self._settings(), F, C, properties, train, hold, lambda: bar.advance(1))
        report = _vae.quality(net, F[hold], C[hold], F[train].mean(0), C[train].mean(0), logp,
                              None if properties is None else properties[hold], esol_F, esol_C, INACTIVE_NATS)
        report.update(corpus_molecules=len(mols), held_out=int(n_hold), vocabulary=len(vocabulary), prepare_seconds=prepared,
                      seconds=time.perf_counter() - started, loss_history=history)
        _vae.save_weights(net, directory / "weights.npz")
        (directory / "vocabulary.json").write_text(json.dumps(list(vocabulary)))
        (directory / "report.json").write_text(json.dumps(report, indent=1))

    def pretrained(self, context: CellContext) -> Path:
        """The cache directory of the pretrained encoder for these parameters (trained now if absent)."""
        import rdkit
        import torch

        smiles, digest = self._corpus(context)
        key = {"params": self._encoder_params(), "corpus_sha256": digest, "version": FORMAT_VERSION,
               "torch": torch.__version__, "rdkit": rdkit.__version__}
        return context.cache.directory("fragment-vae", key, lambda d: self._pretrain(smiles, d, context))

    # -- representation -----------------------------------------------------------------
    def fit(self, train: Table, context: CellContext) -> None:
        directory = self.pretrained(context)
        self.vocabulary_ = tuple(json.loads((directory / "vocabulary.json").read_text()))
        with np.load(directory / "weights.npz", allow_pickle=False) as stored:
            self.state_ = {name: stored[name] for name in stored.files}
        self.report_ = json.loads((directory / "report.json").read_text())
        self.fill_ = label_fill(train, self.params.add_targets)
        # A few headline numbers go into every cell's results (the full report is in the
        # cache entry's report.json and the run log).
        for key in RECORDED:
            context.record(f"vae_{key}", self.report_[key], evaluation="pretraining")
        context.log.info("fragment-vae pretraining report: %s",
                         {k: v for k, v in self.report_.items() if k not in ("loss_history", "kl_per_dimension_esol")})

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        from . import _vae
        from .fragments import Featurizer

        p = self.params
        _, mols = table_molecules(table, "fragment-vae")
        F, C = Featurizer(self.vocabulary_, p.pair_bins)(mols)
        latent = _vae.encode(self.state_, self._settings(), F, C, len(p.property_head))
        return np.hstack([latent, label_columns(table, self.fill_)])

    def feature_names(self) -> tuple[str, ...] | None:
        p = self.params
        return tuple(f"z_f{i}" for i in range(p.z_fragments)) + tuple(f"z_c{i}" for i in range(p.z_connectivity)) + tuple(p.add_targets)


def label_fill(train: Table, names: list[str]) -> dict[str, float]:
    """Training mean of each label to append, used where a sample's label is missing (as the
    common ``raw`` representation does)."""
    fill = {}
    for name in names:
        if name not in train.targets:
            raise ComponentError(f"fragment-vae: target {name!r} to add is not in the dataset; targets: {sorted(train.targets)}")
        values = np.asarray(train.targets[name], dtype=np.float64)
        fill[name] = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
    return fill


def label_columns(table: Table, fill: dict[str, float]) -> np.ndarray:
    columns = [np.asarray(table.targets[name], dtype=np.float64) for name in fill]
    if not columns:
        return np.zeros((len(table), 0))
    matrix = np.stack(columns, 1)
    return np.where(np.isfinite(matrix), matrix, np.array(list(fill.values()))[None, :])
