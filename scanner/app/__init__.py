"""The application layer: the workflows behind the product commands, returning typed runs; the
CLI (scanner/cli.py) parses arguments, calls them, prints (scanner/ui.py) and maps errors to
exit codes."""
