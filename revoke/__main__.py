from revoke.cli import main

raise SystemExit(main())
