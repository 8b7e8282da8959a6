"""Synthetic query generation: the data mix, the generator and its quality figures."""

from core.synth.generator import EDGE_VARIANTS, GENERATOR_VERSION, SynthQuery, generate
from core.synth.mix import DIFFICULTIES, DOMAINS, FOCI, DataMix, allocate, rebalance

__all__ = [
    "DIFFICULTIES",
    "DOMAINS",
    "EDGE_VARIANTS",
    "FOCI",
    "GENERATOR_VERSION",
    "DataMix",
    "SynthQuery",
    "allocate",
    "generate",
    "rebalance",
]
