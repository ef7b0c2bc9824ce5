from gitops_ingress.cli import main

raise SystemExit(main())
