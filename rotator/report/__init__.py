"""What each command tells the user: plain text for people, one stable JSON document for machines.

One module per command; this package holds only the version every JSON document carries (a light
constant, so the fleet tools and each report agree on it without importing one another).
"""

JSON_VERSION = 1
