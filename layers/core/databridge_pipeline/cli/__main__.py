"""``python -m databridge_pipeline.cli``: how the layer build compiles the manifest from the source tree."""

import sys

from databridge_pipeline.cli import main

sys.exit(main())
