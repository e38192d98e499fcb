-- The certified-days breakdown keeps end boundaries only (docs/statistics.md): the medians of
-- ended cases read nothing else, so its start boundaries are dropped.
DELETE FROM case_boundaries WHERE breakdown = 'certifiedDays' AND boundary = 'start';
