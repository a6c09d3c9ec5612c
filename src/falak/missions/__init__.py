"""Mission data for the three spacecraft and the TESTSAT example (data only)."""
