"""Monthly reports computed from the history (and the records beside it), so any month can be recomputed."""
