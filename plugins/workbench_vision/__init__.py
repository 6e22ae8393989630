"""Vision plugin: CIFAR-100 and the hierarchical CNN of thesis §3.2 (label-hierarchy curricula)."""
