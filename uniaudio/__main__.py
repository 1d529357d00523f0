import sys

from uniaudio.cli import main

sys.exit(main())
