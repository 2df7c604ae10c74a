"""``databridge-pipeline``: the operators' command line (configs, the local run, and the deployed stack).

One module per command group; ``program`` assembles them. ``main`` is re-exported here because the console
script (``databridge_pipeline.cli:main``) and ``python -m databridge_pipeline.cli`` start from this package.
"""

from databridge_pipeline.cli.program import main

__all__ = ["main"]
