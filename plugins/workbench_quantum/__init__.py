"""Quantum dynamics (thesis §4.2): split-operator solver, wave-packet windows, GRU emulator."""
