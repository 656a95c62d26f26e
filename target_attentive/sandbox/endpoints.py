"""The sandbox's endpoint names, used in counts, rate limits and the accepted log.

Shared by the state (state.py), its views (views.py) and the v2 routes (v2.py).
"""

SINGLE = "single"
BULK = "bulk"
JOB = "job"
ME = "me"
OTHER = "other"
ENDPOINTS = (SINGLE, BULK, JOB, ME, OTHER)
