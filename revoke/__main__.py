from revoke.app.cli import main

raise SystemExit(main())
