"""Reports over the ledger for auditors (bias monitoring)."""
