import sys

from ghapp.cli import main

sys.exit(main())
