"""Organisations as DfE publishes them: the establishment file of Get Information about Schools (GIAS)."""
