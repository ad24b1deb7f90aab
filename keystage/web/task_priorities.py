"""Which queued work a free worker takes first: django-tasks hands out the highest priority first,
then the oldest. On deadline day the queue holds schools' checks and the figures their confirmations
set recomputing (bench/deadline_surge: most of the workers' time); a person waits on the page for a
check, while figures that land a few seconds later are no worse."""

DEADLINE = 50  # a deadline is collected at its moment, before anything else waiting
CHECK = 20  # a school's file (or a CTF sent to the LA) being checked while someone watches
IMPORT = 0  # platform staff's GIAS import: after schools' checks, before figures
FIGURES = -10  # recomputing measures after a confirmation
