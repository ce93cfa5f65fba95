"""One checker per section of the definition format; `loader.py` runs them in order.

Each checker reads its section of the YAML, reports every problem with its line, and fills in what later
sections name (`Known`): the roles, the fields, the constants and tables, the states, the transitions.
"""
