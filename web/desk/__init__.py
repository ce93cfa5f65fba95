"""The staff desk (slice: see web/slices.py): ownership of cases, notes, attachments, search and saved
filters, CSV export of any list, printable records."""
