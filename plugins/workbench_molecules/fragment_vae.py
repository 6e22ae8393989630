"""A fragment VAE in the spirit of FraGVAE (Armitage et al. 2019; thesis §2.2.2).

Two latent spaces, as in FraGVAE: Z_F encodes the bag of atom-centred fragments and Z_C how the
fragments connect (fragment pairs across bonds, ring sizes, ring fusion; see ``fragments``).
The fragment decoder reconstructs the bag from Z_F; the connectivity decoder reconstructs the
connectivity from [Z_F, Z_C] (connectivity is read given the fragments, as in FraGVAE). Counts
are reconstructed with a Poisson likelihood. The representation of a molecule is the pair of
posterior means [μ_F, μ_C].

Simplification, stated plainly: FraGVAE's encoders are graph networks and its decoders
rebuild the molecular graph; here both encoders read count vectors (bag of fragments, bag of
connections) through MLPs and the decoders rebuild those counts, not the graph. This keeps
pretraining on a 100k-molecule MOSES sample well within 15 CPU-minutes (4.6 min measured on
2 threads, `benchmarks/fragment_vae_pretraining.py`).

The encoder is pretrained once per parameter set on a drug-like corpus (MOSES) and kept in
the cache; pretraining reports reconstruction quality against a chance baseline and a
linear-probe R² for Crippen logP on held-out molecules.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from rdkit.Chem import Crippen
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from torch import nn

import workbench
from workbench import Bundle, CellContext, ComponentError, Representation, Table, TargetInfo

from .datasets import read_esol
from .descriptors import parse_smiles
from .fragments import Featurizer, atom_fragments, build_vocabulary

MOSES_TRAIN = "moses/train.csv.gz"
MOSES_SHA256 = "786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c"
RECORDED = ("logp_probe_r2", "fragment_count_mae", "fragment_count_mae_chance")


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class FragmentVAENet(nn.Module):
    """Encoders q(Z_F | F), q(Z_C | F, C); decoders p(F | Z_F), p(C | Z_F, Z_C)."""

    def __init__(self, n_fragments: int, n_connectivity: int, z_fragments: int, z_connectivity: int, hidden: int):
        super().__init__()
        self.encode_f = mlp([n_fragments, hidden, hidden, 2 * z_fragments])
        self.encode_c = mlp([n_fragments + n_connectivity, hidden, hidden, 2 * z_connectivity])
        self.decode_f = mlp([z_fragments, hidden, hidden, n_fragments])
        self.decode_c = mlp([z_fragments + z_connectivity, hidden, hidden, n_connectivity])

    def encode(self, F: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        # log1p: counts span 0..~30, the log keeps large counts from dominating the encoder.
        f, c = torch.log1p(F), torch.log1p(C)
        mu_f, logvar_f = self.encode_f(f).chunk(2, dim=1)
        mu_c, logvar_c = self.encode_c(torch.cat([f, c], 1)).chunk(2, dim=1)
        return mu_f, logvar_f, mu_c, logvar_c

    def decode(self, z_f: torch.Tensor, z_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log Poisson rates of the fragment and connectivity counts."""
        return self.decode_f(z_f), self.decode_c(torch.cat([z_f, z_c], 1))


def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def poisson_nll(log_rate: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return (log_rate.exp() - counts * log_rate).sum(1)


def exact_rate(predicted: np.ndarray, counts: np.ndarray) -> float:
    """Fraction of molecules whose whole count vector is reproduced exactly."""
    return float(np.mean(np.all(predicted == counts, axis=1)))


class FragmentVAE(Representation):
    name = "fragment-vae"
    summary = "Fragment VAE in the spirit of FraGVAE (thesis §2.2.2): posterior means [Z_F, Z_C], pretrained on MOSES and cached."

    class Params(workbench.Params):
        corpus: Literal["moses", "esol"] = Field(default="moses", description="pretraining molecules: a MOSES sample (data directory) or the packaged ESOL molecules (small; tests)")
        corpus_size: int = Field(default=100_000, ge=50, description="molecules drawn from the corpus (5% of them held out for the quality report)")
        vocabulary_size: int = Field(default=500, ge=8, description="most frequent atom-centred fragments kept (others count under their centre atom)")
        pair_bins: int = Field(default=512, ge=8, description="hash bins for fragment pairs across bonds")
        z_fragments: int = Field(default=32, ge=1, description="dimension of Z_F (bag of fragments)")
        z_connectivity: int = Field(default=32, ge=1, description="dimension of Z_C (connectivity)")
        hidden: int = Field(default=256, ge=8, description="width of the encoder and decoder MLPs")
        epochs: int = Field(default=15, ge=1, description="pretraining epochs")
        batch_size: int = Field(default=128, ge=8, description="pretraining batch size")
        learning_rate: float = Field(default=1e-3, gt=0, description="Adam learning rate")
        beta: float = Field(default=0.1, ge=0, description="weight of the KL terms (after a linear warm-up over the first third of the epochs)")
        seed: int = Field(default=0, description="seed of the corpus sample and the training; fixed so every cell shares one pretrained encoder")
        add_targets: list[str] = Field(
            default_factory=list,
            description="targets appended as extra columns, as raw's add_targets (thesis §2.3.2 fairness; they count as seen labels)",
        )

    def seen_labels(self) -> frozenset[str]:
        return frozenset(self.params.add_targets)

    def _encoder_params(self) -> dict:
        """The parameters that determine the pretrained encoder (not the appended labels)."""
        return self.params.model_dump(exclude={"add_targets"})

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"corpus": "esol", "corpus_size": 200, "vocabulary_size": 50, "pair_bins": 32, "hidden": 32, "epochs": 2, "z_fragments": 3, "z_connectivity": 2}]

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        frame, _, _ = read_esol()
        rows = rng.choice(len(frame), 40, replace=False)
        samples = frame.iloc[rows][["smiles"]].reset_index(drop=True)
        y = frame["measured log solubility in mols per litre"].to_numpy()[rows]
        table = Table(np.zeros((40, 1)), {"y": y}, samples)
        return Bundle(train=table.take(np.arange(30)), evaluations={"test": table.take(np.arange(30, 40))}, targets={"y": TargetInfo("regression")})

    # -- pretraining ---------------------------------------------------------------------
    def _corpus(self, context: CellContext) -> list[str]:
        p = self.params
        if p.corpus == "esol":
            smiles = read_esol()[0]["smiles"].tolist()
        else:
            path = context.data.find("MOSES", [MOSES_TRAIN], sha256=MOSES_SHA256,
                                     how_to_get="MOSES is on PyPI (molsets) and GitHub (molecularsets/moses); or use `corpus: esol`.")
            smiles = pd.read_csv(path)["SMILES"].tolist()
        if p.corpus_size < len(smiles):
            rows = np.random.default_rng(p.seed).choice(len(smiles), p.corpus_size, replace=False)
            smiles = [smiles[i] for i in np.sort(rows)]
        return smiles

    def _pretrain(self, directory: Path, context: CellContext) -> None:
        p = self.params
        started = time.perf_counter()
        smiles = self._corpus(context)
        mols = [m for m in parse_smiles(smiles) if m is not None and m.GetNumAtoms() > 0]
        with context.progress("fragmenting corpus", total=len(mols)) as bar:
            fragments = []
            for i, mol in enumerate(mols):
                fragments.append(atom_fragments(mol))
                if i % 1000 == 999:
                    bar.advance(1000)
        rng = np.random.default_rng(p.seed)
        order = rng.permutation(len(mols))
        # 5% held out; at least a quarter (up to 500) of a small corpus, so the probe has data.
        n_hold = max(len(mols) // 20, min(len(mols) // 4, 500))
        hold, train = order[:n_hold], order[n_hold:]
        vocabulary = build_vocabulary((fragments[i] for i in train), p.vocabulary_size)
        featurize = Featurizer(vocabulary, p.pair_bins)
        F, C = featurize(mols, fragments)
        logp = np.array([Crippen.MolLogP(m) for m in (mols[i] for i in hold)])
        featurized = time.perf_counter() - started

        with torch.random.fork_rng():
            torch.manual_seed(p.seed)
            net = FragmentVAENet(featurize.n_fragments, featurize.n_connectivity, p.z_fragments, p.z_connectivity, p.hidden)
            optimizer = torch.optim.Adam(net.parameters(), lr=p.learning_rate)
            Ft, Ct = torch.from_numpy(F[train]), torch.from_numpy(C[train])
            generator = torch.Generator().manual_seed(p.seed)
            history = []
            with context.progress("pretraining fragment VAE", total=p.epochs) as bar:
                for epoch in range(p.epochs):
                    beta = p.beta * min(1.0, (epoch + 1) / max(1, p.epochs / 3))
                    perm = torch.randperm(len(Ft), generator=generator)
                    total = 0.0
                    for start in range(0, len(perm), p.batch_size):
                        idx = perm[start:start + p.batch_size]
                        f, c = Ft[idx], Ct[idx]
                        mu_f, lv_f, mu_c, lv_c = net.encode(f, c)
                        z_f = mu_f + torch.randn(mu_f.shape, generator=generator) * (0.5 * lv_f).exp()
                        z_c = mu_c + torch.randn(mu_c.shape, generator=generator) * (0.5 * lv_c).exp()
                        rate_f, rate_c = net.decode(z_f, z_c)
                        loss = (poisson_nll(rate_f, f) + poisson_nll(rate_c, c) + beta * (kl(mu_f, lv_f) + kl(mu_c, lv_c))).mean()
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        total += float(loss.detach()) * len(idx)
                    history.append(total / len(perm))
                    bar.advance(1)
        report = self._quality(net, F[hold], C[hold], F[train], C[train], logp)
        report.update(corpus_molecules=len(mols), held_out=int(n_hold), vocabulary=len(vocabulary),
                      featurize_seconds=featurized, seconds=time.perf_counter() - started, loss_history=history)
        torch.save(net.state_dict(), directory / "model.pt")
        (directory / "vocabulary.json").write_text(json.dumps(list(vocabulary)))
        (directory / "report.json").write_text(json.dumps(report, indent=1))

    @staticmethod
    @torch.no_grad()
    def _quality(net: FragmentVAENet, F: np.ndarray, C: np.ndarray, F_train: np.ndarray, C_train: np.ndarray, logp: np.ndarray) -> dict:
        """Reconstruction of held-out molecules from their posterior means, against the chance
        baseline of predicting every molecule as the training corpus' mean counts; and how
        much of Crippen logP a linear probe reads off the latent means."""
        net.eval()
        Ft, Ct = torch.from_numpy(F), torch.from_numpy(C)
        mu_f, _, mu_c, _ = net.encode(Ft, Ct)
        rate_f, rate_c = (r.exp().numpy() for r in net.decode(mu_f, mu_c))
        # Predicted counts: the decoded Poisson rates rounded to integers.
        pred_f, pred_c = np.round(rate_f), np.round(rate_c)
        chance_f = np.broadcast_to(np.round(F_train.mean(0)), F.shape)
        chance_c = np.broadcast_to(np.round(C_train.mean(0)), C.shape)
        latent = torch.cat([mu_f, mu_c], 1).numpy()
        half = len(latent) // 2
        probe = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(latent[:half], logp[:half])
        return {
            "fragment_bag_exact": exact_rate(pred_f, F), "fragment_bag_exact_chance": exact_rate(chance_f, F),
            "fragment_count_mae": float(np.abs(pred_f - F).sum(1).mean()), "fragment_count_mae_chance": float(np.abs(chance_f - F).sum(1).mean()),
            "connectivity_exact": exact_rate(pred_c, C), "connectivity_exact_chance": exact_rate(chance_c, C),
            "connectivity_count_mae": float(np.abs(pred_c - C).sum(1).mean()), "connectivity_count_mae_chance": float(np.abs(chance_c - C).sum(1).mean()),
            "logp_probe_r2": float(r2_score(logp[half:], probe.predict(latent[half:]))),
        }

    def pretrained(self, context: CellContext) -> Path:
        """The cache directory of the pretrained encoder for these parameters (trained now if absent)."""
        return context.cache.directory("fragment-vae", {"params": self._encoder_params(), "version": 1}, lambda d: self._pretrain(d, context))

    # -- representation -----------------------------------------------------------------
    def fit(self, train: Table, context: CellContext) -> None:
        p = self.params
        directory = self.pretrained(context)
        self.vocabulary_ = tuple(json.loads((directory / "vocabulary.json").read_text()))
        featurize = Featurizer(self.vocabulary_, p.pair_bins)
        net = FragmentVAENet(featurize.n_fragments, featurize.n_connectivity, p.z_fragments, p.z_connectivity, p.hidden)
        net.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.state_ = {k: v.clone() for k, v in net.state_dict().items()}
        self.report_ = json.loads((directory / "report.json").read_text())
        self.fill_ = label_fill(train, p.add_targets)
        # A few headline numbers go into every cell's results (the full report is in the
        # cache entry's report.json and the run log).
        for key in RECORDED:
            context.record(f"vae_{key}", self.report_[key], evaluation="pretraining")
        context.log.info("fragment-vae pretraining report: %s", {k: v for k, v in self.report_.items() if k != "loss_history"})

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        if table.samples is None or "smiles" not in table.samples:
            raise ComponentError("fragment-vae needs SMILES: the dataset must put a 'smiles' column in the table's samples")
        p = self.params
        mols = parse_smiles(table.samples["smiles"].tolist())
        bad = [s for s, m in zip(table.samples["smiles"], mols) if m is None]
        if bad:
            raise ComponentError(f"fragment-vae: RDKit cannot parse {len(bad)} SMILES, e.g. {bad[:3]}; drop them in the dataset")
        featurize = Featurizer(self.vocabulary_, p.pair_bins)
        F, C = featurize(mols)
        net = FragmentVAENet(featurize.n_fragments, featurize.n_connectivity, p.z_fragments, p.z_connectivity, p.hidden)
        net.load_state_dict(self.state_)
        net.eval()
        with torch.no_grad():
            mu_f, _, mu_c, _ = net.encode(torch.from_numpy(F), torch.from_numpy(C))
        latent = torch.cat([mu_f, mu_c], 1).numpy().astype(np.float64)
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
