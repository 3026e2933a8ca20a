"""`python -m client ...`: the `keras-service` command without installing it."""

from client.cli import main

raise SystemExit(main())
