"""pygal, imported once and without its import hook.

pygal adds to sys.meta_path a finder for its map plugins (`pygal.maps.*`) that has only the old
`find_module`: on Python 3.11 every later import then warns (ImportWarning), which the tests treat as an error.
We draw no maps, so the finder is taken off again.
"""

from __future__ import annotations

import sys

import pygal

sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]

__all__ = ["pygal"]
