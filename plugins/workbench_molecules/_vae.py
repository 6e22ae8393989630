"""The torch side of the fragment VAE: the network, its losses, pretraining and the quality
report. An implementation module: ``fragment_vae`` imports it inside the methods that train or
encode, so registering the component imports neither torch nor RDKit nor scikit-learn.

Training objective per molecule (FraGVAE-style two latents, count likelihoods):

    Poisson NLL(F | Z_F) + Poisson NLL(C | Z_F, Z_C)
    + β · Σ_d max(KL_d, free_bits)                       (KL_d averaged over the batch)
    + property_weight · ‖W [μ_F, μ_C] + b − standardised properties‖²

The free-bits floor (Kingma et al. 2016) stops the KL term from pushing a dimension's
information below ``free_bits`` nats, so dimensions do not collapse to the prior; the optional
linear property head (in the manner of Gómez-Bombarelli et al. 2018) asks the posterior means
to carry RDKit properties computed from the structure itself, linearly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench_common.torch_layers import dense


class FragmentVAENet(nn.Module):
    """Encoders q(Z_F | F), q(Z_C | F, C); decoders p(F | Z_F), p(C | Z_F, Z_C); an optional
    linear head from the posterior means to ``n_properties`` standardised properties."""

    def __init__(self, n_fragments: int, n_connectivity: int, z_fragments: int, z_connectivity: int, hidden: int,
                 encoder_input: str = "log", n_properties: int = 0):
        super().__init__()
        self.encoder_input = encoder_input
        self.encode_f = dense([n_fragments, hidden, hidden, 2 * z_fragments], nn.SiLU)
        self.encode_c = dense([n_fragments + n_connectivity, hidden, hidden, 2 * z_connectivity], nn.SiLU)
        self.decode_f = dense([z_fragments, hidden, hidden, n_fragments], nn.SiLU)
        self.decode_c = dense([z_fragments + z_connectivity, hidden, hidden, n_connectivity], nn.SiLU)
        self.head = nn.Linear(z_fragments + z_connectivity, n_properties) if n_properties else None

    def encode(self, F: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        # "log": log1p keeps counts of 0..~30 from dominating; "counts": the encoder sees the
        # counts themselves, closer to the additive quantities (logP, mass) they determine.
        f, c = (torch.log1p(F), torch.log1p(C)) if self.encoder_input == "log" else (F, C)
        mu_f, logvar_f = self.encode_f(f).chunk(2, dim=1)
        mu_c, logvar_c = self.encode_c(torch.cat([f, c], 1)).chunk(2, dim=1)
        return mu_f, logvar_f, mu_c, logvar_c

    def decode(self, z_f: torch.Tensor, z_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log Poisson rates of the fragment and connectivity counts."""
        return self.decode_f(z_f), self.decode_c(torch.cat([z_f, z_c], 1))


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, 1)) of each latent dimension, per sample: ``(n, d)`` nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


def poisson_nll(log_rate: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Poisson negative log-likelihood per sample, without the log(k!) constant."""
    return (log_rate.exp() - counts * log_rate).sum(1)


@dataclass(frozen=True)
class Settings:
    z_fragments: int
    z_connectivity: int
    hidden: int
    encoder_input: str
    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str
    beta: float
    warmup_fraction: float
    free_bits: float
    property_weight: float
    seed: int


def network(settings: Settings, n_fragments: int, n_connectivity: int, n_properties: int) -> FragmentVAENet:
    return FragmentVAENet(n_fragments, n_connectivity, settings.z_fragments, settings.z_connectivity, settings.hidden,
                          settings.encoder_input, n_properties)


def batch_loss(net: FragmentVAENet, f: torch.Tensor, c: torch.Tensor, targets: torch.Tensor | None, beta: float,
               free_bits: float, property_weight: float, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(training loss, per-sample reconstruction + β·KL) of one batch; with ``generator`` the
    latents are sampled (training), without it the posterior means are decoded (evaluation)."""
    mu_f, lv_f, mu_c, lv_c = net.encode(f, c)
    if generator is not None:
        z_f = mu_f + torch.randn(mu_f.shape, generator=generator) * (0.5 * lv_f).exp()
        z_c = mu_c + torch.randn(mu_c.shape, generator=generator) * (0.5 * lv_c).exp()
    else:
        z_f, z_c = mu_f, mu_c
    rate_f, rate_c = net.decode(z_f, z_c)
    reconstruction = poisson_nll(rate_f, f) + poisson_nll(rate_c, c)
    kl = torch.cat([kl_per_dimension(mu_f, lv_f), kl_per_dimension(mu_c, lv_c)], 1)
    elbo_terms = reconstruction + beta * kl.sum(1)
    kl_term = torch.clamp(kl.mean(0), min=free_bits).sum() if free_bits > 0 else kl.sum(1).mean()
    loss = reconstruction.mean() + beta * kl_term
    if net.head is not None and targets is not None:
        loss = loss + property_weight * (net.head(torch.cat([mu_f, mu_c], 1)) - targets).pow(2).sum(1).mean()
    return loss, elbo_terms.detach()


def pretrain(settings: Settings, F: np.ndarray, C: np.ndarray, properties: np.ndarray | None, train: np.ndarray,
             hold: np.ndarray, advance: Callable[[], None]) -> tuple[FragmentVAENet, list[dict[str, float]]]:
    """Train on the ``train`` rows; after every epoch record the mean training loss and the
    held-out rows' loss (reconstruction from sampled latents + β·KL, the objective without
    free bits or the property head) so the loss curve shows convergence."""
    s = settings
    n_properties = 0 if properties is None else properties.shape[1]
    with torch.random.fork_rng():
        torch.manual_seed(s.seed)
        net = network(s, F.shape[1], C.shape[1], n_properties)
        optimizer = torch.optim.Adam(net.parameters(), lr=s.learning_rate)
        steps = s.epochs * math.ceil(len(train) / s.batch_size)
        scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.learning_rate, total_steps=steps, pct_start=0.1)
                     if s.schedule == "one-cycle" else None)
        Ft, Ct = torch.from_numpy(F[train]), torch.from_numpy(C[train])
        Fh, Ch = torch.from_numpy(F[hold]), torch.from_numpy(C[hold])
        targets = None
        if properties is not None:
            mean, scale = properties[train].mean(0), properties[train].std(0)
            targets = torch.from_numpy(((properties[train] - mean) / np.where(scale > 0, scale, 1.0)).astype(np.float32))
        generator = torch.Generator().manual_seed(s.seed)
        held_generator_seed = s.seed + 1
        history = []
        for epoch in range(1, s.epochs + 1):
            started = time.perf_counter()
            beta = s.beta * min(1.0, epoch / max(1.0, s.epochs * s.warmup_fraction)) if s.warmup_fraction > 0 else s.beta
            net.train()
            order = torch.randperm(len(Ft), generator=generator)
            total = 0.0
            for start in range(0, len(order), s.batch_size):
                idx = order[start:start + s.batch_size]
                loss, _ = batch_loss(net, Ft[idx], Ct[idx], None if targets is None else targets[idx], beta, s.free_bits,
                                     s.property_weight, generator)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total += float(loss.detach()) * len(idx)
            net.eval()
            with torch.no_grad():
                # The same noise every epoch, so the held-out curve moves only with the model.
                _, held = batch_loss(net, Fh, Ch, None, s.beta, 0.0, 0.0, torch.Generator().manual_seed(held_generator_seed))
            history.append({"epoch": epoch, "train_loss": total / len(order), "held_out_loss": float(held.mean()),
                            "beta": beta, "seconds": time.perf_counter() - started})
            advance()
    net.eval()
    return net, history


@torch.no_grad()
def posterior(net: FragmentVAENet, F: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means ``(n, z)`` and per-dimension KL ``(n, z)`` of molecules' count vectors."""
    net.eval()
    mu_f, lv_f, mu_c, lv_c = net.encode(torch.from_numpy(F), torch.from_numpy(C))
    kl = torch.cat([kl_per_dimension(mu_f, lv_f), kl_per_dimension(mu_c, lv_c)], 1)
    return torch.cat([mu_f, mu_c], 1).double().numpy(), kl.double().numpy()


def exact_rate(predicted: np.ndarray, counts: np.ndarray) -> float:
    """Fraction of molecules whose whole count vector is reproduced exactly."""
    return float(np.mean(np.all(predicted == counts, axis=1)))


def linear_probe_r2(features: np.ndarray, values: np.ndarray) -> float:
    """R² of a ridge fit (penalty by internal CV) on the first half of the rows, scored on the second."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    half = len(features) // 2
    probe = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(features[:half], values[:half])
    return float(r2_score(values[half:], probe.predict(features[half:])))


@torch.no_grad()
def quality(net: FragmentVAENet, F: np.ndarray, C: np.ndarray, F_train_mean: np.ndarray, C_train_mean: np.ndarray,
            logp: np.ndarray, head_properties: np.ndarray | None, esol_F: np.ndarray, esol_C: np.ndarray,
            inactive_nats: float) -> dict:
    """On held-out molecules: reconstruction from the posterior means against the chance baseline
    of predicting the training corpus' mean counts for every molecule; how much of Crippen logP a
    linear probe reads off the latent means (and, for reference, off the head's properties
    alone); and the latent dimensions that carry less than ``inactive_nats`` of KL on average,
    on the held-out corpus molecules and on ESOL's."""
    mu, kl = posterior(net, F, C)
    z_f = net.decode_f[0].in_features
    rate_f, rate_c = (r.exp().numpy() for r in net.decode(torch.from_numpy(mu[:, :z_f]).float(), torch.from_numpy(mu[:, z_f:]).float()))
    pred_f, pred_c = np.round(rate_f), np.round(rate_c)  # predicted counts: the decoded rates rounded
    chance_f = np.broadcast_to(np.round(F_train_mean), F.shape)
    chance_c = np.broadcast_to(np.round(C_train_mean), C.shape)
    _, esol_kl = posterior(net, esol_F, esol_C)
    kl_held, kl_esol = kl.mean(0), esol_kl.mean(0)
    report = {
        "fragment_bag_exact": exact_rate(pred_f, F), "fragment_bag_exact_chance": exact_rate(chance_f, F),
        "fragment_count_mae": float(np.abs(pred_f - F).sum(1).mean()), "fragment_count_mae_chance": float(np.abs(chance_f - F).sum(1).mean()),
        "connectivity_exact": exact_rate(pred_c, C), "connectivity_exact_chance": exact_rate(chance_c, C),
        "connectivity_count_mae": float(np.abs(pred_c - C).sum(1).mean()), "connectivity_count_mae_chance": float(np.abs(chance_c - C).sum(1).mean()),
        "logp_probe_r2": linear_probe_r2(mu, logp),
        "latent_dimensions": int(mu.shape[1]),
        "inactive_dimensions": int((kl_held < inactive_nats).sum()),
        "inactive_dimensions_esol": int((kl_esol < inactive_nats).sum()),
        "kl_per_dimension_esol": [float(v) for v in kl_esol],
    }
    if head_properties is not None:
        report["logp_probe_r2_from_head_properties"] = linear_probe_r2(head_properties, logp)
    return report


def save_weights(net: FragmentVAENet, path: Path) -> None:
    """The weights as plain arrays (npz, read back without unpickling)."""
    np.savez(path, **{name: value.detach().numpy() for name, value in net.state_dict().items()})


def load_weights(net: FragmentVAENet, path: Path) -> None:
    with np.load(path, allow_pickle=False) as stored:
        net.load_state_dict({name: torch.from_numpy(stored[name]) for name in stored.files})


@torch.no_grad()
def encode(state: dict[str, np.ndarray], settings: Settings, F: np.ndarray, C: np.ndarray, n_properties: int) -> np.ndarray:
    """Posterior means of the molecules' count vectors under the weights ``state``."""
    net = network(settings, F.shape[1], C.shape[1], n_properties)
    net.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    return posterior(net, F, C)[0]


def featurize_corpus(mols: Sequence, vocabulary_size: int, pair_bins: int, train: np.ndarray,
                     advance: Callable[[int], None]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The vocabulary (from the training rows' fragments) and the count vectors of every molecule."""
    from .fragments import Featurizer, atom_fragments, build_vocabulary

    fragments = []
    for i, mol in enumerate(mols):
        fragments.append(atom_fragments(mol))
        if i % 1000 == 999:
            advance(1000)
    vocabulary = build_vocabulary((fragments[i] for i in train), vocabulary_size)
    F, C = Featurizer(vocabulary, pair_bins)(mols, fragments)
    return vocabulary, F, C
