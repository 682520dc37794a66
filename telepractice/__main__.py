from telepractice.cli import main

raise SystemExit(main())
