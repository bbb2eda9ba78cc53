"""The Assay service: settings, app factory, HTTP routers, auth, the pipeline, the policy engine, CLI."""
