"""`python -m hub` = the `hub` command (used to run the worker from `hub demo`)."""

from hub.cli.main import main

main()
