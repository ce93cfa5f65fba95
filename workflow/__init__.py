"""The after-sales workflow service: definitions (data) and the engine (rules). Never imports Flask."""
