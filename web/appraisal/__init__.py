"""The monthly appraisal over HTTP: its JSON API (api.py, on the API blueprint) and its pages (ui.py)."""
