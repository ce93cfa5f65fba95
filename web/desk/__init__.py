"""(slice: see web/slices.py)"""
