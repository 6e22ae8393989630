"""Molecular representations on ESOL (thesis ch. 2): the ESOL dataset with PubChem-style
properties and GHS hazard labels, a fragment VAE, and Lee et al.'s importance fingerprint."""
