"""A patient's own leaflet: the fields staff type, dates in the clinic's time zone, one handout or a day's list."""
