-- The push path without scans of whole tables (docs/BENCHMARKS.md → PostgreSQL).

-- A push recomputes the report pairs of the people it touches: it reads their
-- contributions by person, as it already read households by household.
CREATE INDEX rpt_contrib_person ON rpt_contrib(person) WHERE person IS NOT NULL;

-- cdt_ts is STABLE, as to_char is: declared IMMUTABLE it could not be inlined, and every
-- log read ran it as a function call per row and column.
CREATE OR REPLACE FUNCTION cdt_ts(t timestamptz) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
