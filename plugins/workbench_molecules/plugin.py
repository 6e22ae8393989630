"""Registers the molecules components (thesis ch. 2) through the workbench hooks."""

from workbench import hookimpl

from .datasets import Esol
from .figures import RepresentationGain
from .fragment_vae import FragmentVAE
from .importance import ImportanceFingerprint
from .representations import MorganFingerprint, RdkitDescriptors


@hookimpl
def register_datasets(register):
    register(Esol)


@hookimpl
def register_representations(register):
    register(FragmentVAE)
    register(ImportanceFingerprint)
    register(RdkitDescriptors)
    register(MorganFingerprint)


@hookimpl
def register_figures(register):
    register(RepresentationGain)
