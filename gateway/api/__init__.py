"""HTTP routers. Assay errors become HTTP responses only here (see :mod:`gateway.api.errors`)."""
