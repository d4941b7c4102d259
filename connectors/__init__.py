"""Connector layer: STIX 2.1 over TAXII 2.1 between federated organisations."""
