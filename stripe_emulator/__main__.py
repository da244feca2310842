"""``python -m stripe_emulator serve …``."""

import sys

from stripe_emulator.cli import main

sys.exit(main())
