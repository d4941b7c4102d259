"""legion-misp: privacy-preserving, intrusion-tolerant CTI sharing for MISP federations.

Implements the federated sharing architecture of "LegionITS: A Federated Intrusion-Tolerant
System Architecture" (arXiv 2512.14242) on top of MISP, STIX 2.1 and TAXII 2.1.
"""

__version__ = "0.1.0"
