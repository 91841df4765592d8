"""Run the starmon collector: `python collector.py` (loop) or `python collector.py --once`."""

import sys

from starmon.scheduler import main

if __name__ == "__main__":
    sys.exit(main())
