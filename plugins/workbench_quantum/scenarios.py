"""The scenarios of thesis §4.2: the training grid and the test families (Figs. 4.3, 4.4)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .potentials import Potential
from .simulator import Scenario

TRAIN_X0 = (10.0, 40.0, 70.0)
TRAIN_S0 = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
TRAIN_E0 = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
TRAIN_HB = tuple(float(h) for h in range(1, 15))
TRAIN_WB = 7.0


def training_scenarios(x0s, s0s, e0s, heights, width, potentials=()) -> list[Scenario]:
    """Free packets for every (X0, S0, E0), then the same packets before a centred rectangular
    barrier for every height (§4.2.2.2: 189 + 189 × 14 = 2,835 with the thesis' values), then
    before each of ``potentials`` (none in the thesis)."""
    packets = list(itertools.product(x0s, s0s, e0s))
    free = [Scenario(x0=x, s0=s, e0=e) for x, s, e in packets]
    barrier = [Scenario(x0=x, s0=s, e0=e, potential=Potential(kind="rectangular", height=h, width=width))
               for h in heights for x, s, e in packets]
    others = [Scenario(x0=x, s0=s, e0=e, potential=v) for v in potentials for x, s, e in packets]
    return free + barrier + others


@dataclass
class Family:
    """One evaluation table: scenarios, and for a sweep the parameter varied, its values and
    the values used in training (marked in Fig. 4.4)."""

    name: str
    scenarios: list[Scenario]
    swept: str | None = None
    values: list[float] = field(default_factory=list)
    trained: list[float] = field(default_factory=list)


# The reference packet of the sweeps and shape tests: a packet of the training grid's X0, with
# S0 and E0 inside the trained ranges, heading for the centred barrier.
BASE = {"x0": 40.0, "s0": 2.0, "e0": 5.0}
BASE_BARRIER = {"kind": "rectangular", "height": 6.0, "width": TRAIN_WB}


def _rect(height: float, width: float = TRAIN_WB) -> Potential:
    return Potential(kind="rectangular", height=height, width=width)


def evaluation_families(size: str = "full") -> list[Family]:
    """Evaluation families. ``size="quick"`` keeps one or two scenarios per family."""
    quick = size == "quick"
    shapes_h = (6.0,) if quick else (4.0, 8.0, 12.0)
    seen_h = (6.0,) if quick else (3.0, 8.0, 13.0)
    unseen_h = (6.5,) if quick else (2.5, 7.5, 12.5)
    packet = {"x0": 40.0, "s0": 2.25, "e0": 4.5}  # between training values of S0 and E0
    families = [
        Family("rect-seen", [Scenario(**packet, potential=_rect(h)) for h in seen_h]),
        Family("rect-unseen", [Scenario(**packet, potential=_rect(h)) for h in unseen_h]),
        Family("triangular", [Scenario(**packet, potential=Potential(kind="triangular", height=h, width=10.0)) for h in shapes_h]),
        Family("circular", [Scenario(**packet, potential=Potential(kind="circular", height=h, width=10.0)) for h in shapes_h]),
    ]
    sweeps = {
        "s0": ((1.0, 4.0) if quick else (0.5, 1.0, 2.0, 3.0, 4.0, 5.5), TRAIN_S0),
        "wb": ((3.0, 7.0) if quick else (1.0, 3.0, 5.0, 7.0, 9.0, 11.0), (TRAIN_WB,)),
        "e0": ((2.0, 11.0) if quick else (0.5, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0), TRAIN_E0),
        "hb": ((2.0, 18.0) if quick else (1.0, 4.0, 7.0, 10.0, 14.0, 17.0, 20.0), TRAIN_HB),
    }
    for swept, (values, trained) in sweeps.items():
        scenarios = []
        for v in values:
            packet_v = dict(BASE)
            barrier = dict(BASE_BARRIER)
            if swept in ("s0", "e0"):
                packet_v[swept] = v
            else:
                barrier["height" if swept == "hb" else "width"] = v
            scenarios.append(Scenario(**packet_v, potential=Potential(**barrier)))
        families.append(Family(f"sweep-{swept}", scenarios, swept, list(values), list(trained)))
    return families
