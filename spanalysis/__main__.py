import sys

from spanalysis.cli import main

sys.exit(main())
