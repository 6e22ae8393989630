"""Quantum dynamics (thesis §4.2): split-operator solver, wave-packet windows, GRU emulator.

``load_emulator(run_dir, cell=None)`` rebuilds a trained emulator from a finished run; its
``.rollout(scenario)`` rolls it out on any packet and potential beside the solver's truth.
"""

from .trained import TrainedEmulator, load_emulator, read_scenario

__all__ = ["TrainedEmulator", "load_emulator", "read_scenario"]
