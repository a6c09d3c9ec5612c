"""TESTSAT: small CCSDS test spacecraft (mdb.yaml; data only)."""
