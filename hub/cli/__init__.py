"""The `hub` command line: one module per command group."""
