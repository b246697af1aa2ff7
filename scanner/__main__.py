"""`python -m scanner` is the same as the `bdscan` console script."""

from scanner.cli import main

raise SystemExit(main())
