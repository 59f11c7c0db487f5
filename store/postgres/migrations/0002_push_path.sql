-- The push path without scans of whole tables (docs/BENCHMARKS.md → PostgreSQL).

-- A push recomputes the report pairs of the people it touches: it reads their
-- contributions by person, as it already read households by household.
CREATE INDEX rpt_contrib_person ON rpt_contrib(person) WHERE person IS NOT NULL;

-- cdt_lock in one statement: the sorted, distinct keys are locked in that order (the
-- subquery's ORDER BY is kept by the aggregate above it), without a PL/pgSQL loop that
-- ran one statement per key.
CREATE OR REPLACE FUNCTION cdt_lock(keys bigint[]) RETURNS void
	LANGUAGE sql VOLATILE AS $$
	SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT x AS k FROM unnest(keys) AS x ORDER BY x) s;
$$;
