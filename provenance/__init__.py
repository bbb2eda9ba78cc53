"""What marks and records an image: labels, watermark, C2PA manifest, the ledger, keys."""
