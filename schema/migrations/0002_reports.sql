-- cdtsync schema, version 2: report aggregates (docs/REPORTS.md).
-- Reports never scan logs: these tables are kept up to date in the transaction that
-- changes a log (store/sqlite/reports_maint.go), and can be rebuilt from the logs.

-- What each log contributes to the reports, as of its last change: one row per log that
-- counts or is an incomplete attempt (complete, not deleted, pending or approved). It is
-- the "before" state when the log changes again, and finds a person's other logs.
CREATE TABLE rpt_contrib (
	id           BLOB PRIMARY KEY,   -- the log's UUID, 16 bytes
	hamlet_id    INTEGER NOT NULL,
	team_id      INTEGER NOT NULL,
	volunteer_id INTEGER NOT NULL,
	day          INTEGER NOT NULL,   -- corrected date in Asia/Ho_Chi_Minh, YYYYMMDD
	ms           INTEGER NOT NULL,   -- corrected occurred_at, Unix ms
	kind         TEXT NOT NULL,
	counted      INTEGER NOT NULL CHECK (counted IN (0, 1)),   -- 1: counted; 0: an incomplete attempt
	approved     INTEGER NOT NULL CHECK (approved IN (0, 1)),
	attendees    INTEGER NOT NULL CHECK (attendees >= 1),
	person       BLOB,               -- citizen_ref (32 bytes) of a counted log
	household    BLOB,               -- household_ref (32 bytes) of a counted log
	CHECK (counted = 1 OR (person IS NULL AND household IS NULL))
) WITHOUT ROWID;
-- A household's contributions, read from this covering index alone when one of its logs
-- changes. (A person's are found through the logs' index on citizen_ref.)
CREATE INDEX rpt_contrib_household ON rpt_contrib(household, hamlet_id, day, approved) WHERE household IS NOT NULL;
-- Last activity per hamlet (approved: scanned back to the first approved entry, the
-- index covers it), per team member.
CREATE INDEX rpt_contrib_hamlet ON rpt_contrib(hamlet_id, ms, approved);
CREATE INDEX rpt_contrib_member ON rpt_contrib(team_id, volunteer_id, ms);

-- How many counted logs and incomplete attempts (all; approved) a volunteer has per day,
-- hamlet and team: the volunteer's active days, and its presence in each unit.
CREATE TABLE rpt_vdays (
	volunteer_id INTEGER NOT NULL,
	day          INTEGER NOT NULL,
	hamlet_id    INTEGER NOT NULL,
	team_id      INTEGER NOT NULL,
	n            INTEGER NOT NULL CHECK (n >= 0),
	n_approved   INTEGER NOT NULL CHECK (n_approved >= 0 AND n_approved <= n),
	PRIMARY KEY (volunteer_id, day, hamlet_id, team_id)
) WITHOUT ROWID;

-- The same per team and day: the team's active days.
CREATE TABLE rpt_tdays (
	team_id INTEGER NOT NULL,
	day     INTEGER NOT NULL,
	n       INTEGER NOT NULL CHECK (n >= 0),
	PRIMARY KEY (team_id, day)
) WITHOUT ROWID;

-- Report cells: one group's figures for one day (period YYYYMMDD) or month (YYYYMM), and
-- a month's exact distinct-count pairs for periods starting mid-month (YYYYMM00; see
-- report.PairCells).
-- key names the group so that a unit's subtree is a range of keys:
--   u<unit path>                       a unit ("u/1/20/300/")
--   t<team's unit path>t<team>/        a team ("t/1/20/t7/")
--   t<team's unit path>t<team>/v<id>/  a volunteer within a team
-- data is report.Cell's binary form: sums per kind (hamlets, volunteers) and the
-- distinct-count pairs.
CREATE TABLE rpt_cells (
	period INTEGER NOT NULL,
	key    TEXT NOT NULL,
	data   BLOB NOT NULL,
	PRIMARY KEY (period, key)
) WITHOUT ROWID;

-- The unit paths the cells' keys were built with: if a unit moves (an import re-parents
-- a hamlet), the aggregates are rebuilt.
CREATE TABLE rpt_paths (
	unit_id INTEGER PRIMARY KEY,
	path    TEXT NOT NULL
);

-- A database that already holds logs gets its aggregates built on first use.
INSERT INTO meta (key, value) SELECT 'rpt_state', 'stale' WHERE EXISTS (SELECT 1 FROM logs);
