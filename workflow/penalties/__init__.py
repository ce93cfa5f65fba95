"""The penalty ledger (003 篇1 客户投诉行政处罚准则 / 经济处罚准则, 002 §4.5 注): loss shares, administrative
penalties and closeout breaches per person and month, with the monthly cap and its carry-over, and the
escalation of complaints (000, 003 篇1 (二十六)). Importing it registers its tables and its effect."""

from . import escalation, models  # noqa: F401  (tables on the metadata; the serious-complaint effect)
