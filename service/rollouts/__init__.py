"""Rollouts: an alias's traffic split over weighted targets and mirrored to a shadow,
what each model did with it (counts, latency, predictions, agreement, outcomes fed
back), and the statistics that say whether a candidate beats the primary.

`routing` picks a target, `outcomes` summarizes what a model answered, `recorder`
gathers this process's observations and writes them to Redis once a second, `shadow`
runs the mirrored requests off the request thread, `payloads` writes sampled requests
and answers as JSON Lines files, `report` and `tests` turn the stored counts into the
alias's report.
"""
