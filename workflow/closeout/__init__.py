"""The parts closeout every 15 days (002 §4.5): the lists of parts still owed, their approval and
instruction to production, and the breaches after the grace. Importing it registers its tables."""

from ..penalties import models as _penalties  # noqa: F401  (the ledger table a breach line refers to)
from . import models  # noqa: F401  (tables on the metadata)
