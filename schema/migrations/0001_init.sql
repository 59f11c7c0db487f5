-- cdtsync schema, version 1.
-- Invariants live here as well as in Go: UNIQUE and CHECK constraints refuse what the
-- rules forbid even if a bug in Go lets it through.

-- Deployment-wide settings: the database epoch (part of every pull cursor), the change
-- sequence, the citizen key (HMAC key for citizen_ref, sent to phones at enrolment).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- Administrative units: a tree of any depth. path is the materialised path of ids
-- ("/1/20/300/"); a unit's subtree is every unit whose path starts with its path.
CREATE TABLE units (
	id         INTEGER PRIMARY KEY,
	parent_id  INTEGER REFERENCES units(id),
	level      TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune', 'hamlet')),
	unit_type  TEXT NOT NULL DEFAULT '',
	code       TEXT,            -- official GSO code where one exists (hamlets have none)
	code_list  TEXT,            -- the code list the code belongs to: codes are reused across lists
	origin     TEXT NOT NULL,   -- stable import key: code system/level/code, or the hamlet's import key (docs/UNITS.md)
	name       TEXT NOT NULL CHECK (name <> ''),
	name_en    TEXT NOT NULL DEFAULT '',
	path       TEXT NOT NULL,
	households INTEGER CHECK (households IS NULL OR households >= 0),
	adults     INTEGER CHECK (adults IS NULL OR adults >= 0),
	valid_from TEXT,
	valid_to   TEXT,
	generated  INTEGER NOT NULL DEFAULT 0 CHECK (generated IN (0, 1)),
	-- households or adults are made up or estimated (demo data), not an official count
	figures_generated INTEGER NOT NULL DEFAULT 0 CHECK (figures_generated IN (0, 1)),
	seq        INTEGER NOT NULL,
	UNIQUE (origin),
	CHECK ((level = 'province') = (parent_id IS NULL)),
	CHECK (code IS NULL OR code_list IS NOT NULL)
);
CREATE INDEX units_parent ON units(parent_id);
CREATE UNIQUE INDEX units_path ON units(path);
CREATE INDEX units_code ON units(code_list, code);
CREATE INDEX units_seq ON units(seq);

-- Where a unit hung before a reorganisation moved it (hamlets moved under new communes).
CREATE TABLE unit_moves (
	unit_id    INTEGER NOT NULL REFERENCES units(id),
	old_parent INTEGER NOT NULL REFERENCES units(id),
	new_parent INTEGER NOT NULL REFERENCES units(id),
	moved_on   TEXT NOT NULL,   -- YYYY-MM-DD the move took effect
	source     TEXT NOT NULL,   -- the import that made it
	PRIMARY KEY (unit_id, moved_on)
) WITHOUT ROWID;

CREATE TABLE activity_kinds (
	code            TEXT PRIMARY KEY CHECK (code <> ''),
	name_vi         TEXT NOT NULL,
	name_en         TEXT NOT NULL,
	once_per_person INTEGER NOT NULL DEFAULT 0 CHECK (once_per_person IN (0, 1)),
	active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
	sort            INTEGER NOT NULL DEFAULT 0,
	seq             INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE teams (
	id         INTEGER PRIMARY KEY,
	unit_id    INTEGER NOT NULL REFERENCES units(id),
	name       TEXT NOT NULL CHECK (name <> ''),
	created_at TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	UNIQUE (unit_id, name)
);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('volunteer', 'coordinator', 'officer', 'admin')),
	display_name  TEXT NOT NULL CHECK (display_name <> ''),
	unit_id       INTEGER NOT NULL REFERENCES units(id),
	team_id       INTEGER REFERENCES teams(id),
	username      TEXT UNIQUE,
	password_hash TEXT,
	created_at    TEXT NOT NULL,
	revoked_at    TEXT,
	CHECK ((role = 'volunteer') = (team_id IS NOT NULL)),
	CHECK (role = 'volunteer' OR (username IS NOT NULL AND password_hash IS NOT NULL)),
	CHECK (role <> 'volunteer' OR password_hash IS NULL)
);
CREATE INDEX users_unit ON users(unit_id);
CREATE INDEX users_team ON users(team_id);

-- One row per enrolment of a phone for a volunteer; a shared phone has several.
CREATE TABLE devices (
	id                INTEGER PRIMARY KEY,
	device_id         TEXT NOT NULL CHECK (device_id <> ''),
	volunteer_id      INTEGER NOT NULL REFERENCES users(id),
	name              TEXT NOT NULL DEFAULT '',
	enrolled_at       TEXT NOT NULL,
	revoked_at        TEXT,
	clock_offset_ms   INTEGER,
	clock_checked_at  TEXT,
	last_push_at      TEXT,
	last_pull_at      TEXT,
	pending_ops       INTEGER,
	oldest_pending_at TEXT,
	UNIQUE (device_id, volunteer_id)
);
CREATE INDEX devices_volunteer ON devices(volunteer_id);

CREATE TABLE enrollment_codes (
	code_hash    TEXT PRIMARY KEY,
	volunteer_id INTEGER NOT NULL REFERENCES users(id),
	issued_by    INTEGER NOT NULL REFERENCES users(id),
	created_at   TEXT NOT NULL,
	expires_at   TEXT NOT NULL,
	used_at      TEXT,
	device_row   INTEGER REFERENCES devices(id)
) WITHOUT ROWID;

-- Refresh tokens are stored hashed. A family is one sign-in or enrolment; rotating keeps
-- the family, and reuse of a spent token revokes the whole family.
CREATE TABLE refresh_tokens (
	token_hash TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL,
	user_id    INTEGER NOT NULL REFERENCES users(id),
	device_row INTEGER REFERENCES devices(id),
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT,
	revoked_at TEXT
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

-- Activity logs. Content columns are the phones' fields; the rest is the server's. stamps
-- holds the winning write of each field (HLC, device, op, base); status and duplicate_of
-- are derived from the review and the once-per-person group, stored for queries.
CREATE TABLE logs (
	id                 TEXT PRIMARY KEY,
	volunteer_id       INTEGER NOT NULL REFERENCES users(id),
	team_id            INTEGER NOT NULL REFERENCES teams(id),
	device_id          TEXT,
	hamlet_id          INTEGER REFERENCES units(id),
	kind               TEXT,
	occurred_at        TEXT,
	occurred_ms        INTEGER,
	occurred_offset_ms INTEGER NOT NULL DEFAULT 0,
	corrected_ms       INTEGER,
	day                INTEGER,   -- corrected date in Asia/Ho_Chi_Minh, YYYYMMDD
	citizen_ref        TEXT,
	household_ref      TEXT,
	age_band           TEXT CHECK (age_band IS NULL OR age_band IN ('under_18', '18_35', '36_59', '60_plus')),
	gender             TEXT CHECK (gender IS NULL OR gender IN ('female', 'male', 'other')),
	attendees          INTEGER CHECK (attendees IS NULL OR attendees >= 1),
	outcome            TEXT CHECK (outcome IS NULL OR outcome IN ('completed', 'incomplete')),
	consent            INTEGER CHECK (consent IS NULL OR consent IN (0, 1)),
	note               TEXT,
	lat                REAL,
	lon                REAL,
	accuracy_m         REAL,
	stamps             TEXT NOT NULL DEFAULT '',
	created_stamp      TEXT NOT NULL DEFAULT '',
	content_hlc        INTEGER NOT NULL DEFAULT 0,
	complete           INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
	deleted            INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
	deleted_hlc        INTEGER NOT NULL DEFAULT 0,
	review_status      TEXT CHECK (review_status IS NULL OR review_status IN ('approved', 'rejected')),
	review_note        TEXT,
	reviewed_by        INTEGER REFERENCES users(id),
	reviewed_at        TEXT,
	review_hlc         INTEGER NOT NULL DEFAULT 0,
	status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'duplicate')),
	duplicate_of       TEXT,
	had_conflict       INTEGER NOT NULL DEFAULT 0 CHECK (had_conflict IN (0, 1)),
	received_at        TEXT NOT NULL,
	seq                INTEGER NOT NULL,
	-- A resident's refs are only kept with their consent.
	CHECK ((citizen_ref IS NULL AND household_ref IS NULL) OR consent = 1),
	-- A complete log has its three required fields.
	CHECK (complete = 0 OR (hamlet_id IS NOT NULL AND kind IS NOT NULL AND occurred_at IS NOT NULL)),
	-- A tombstone keeps no content.
	CHECK (deleted = 0 OR (hamlet_id IS NULL AND citizen_ref IS NULL AND note IS NULL)),
	CHECK ((status = 'duplicate') = (duplicate_of IS NOT NULL))
);
-- Pulls read a volunteer's logs by sequence; sequence numbers are unique (one writer
-- hands them out), checked here per volunteer without a second index.
CREATE UNIQUE INDEX logs_volunteer_seq ON logs(volunteer_id, seq);
CREATE INDEX logs_hamlet_day ON logs(hamlet_id, day) WHERE complete = 1 AND deleted = 0;
CREATE INDEX logs_group ON logs(citizen_ref, kind) WHERE citizen_ref IS NOT NULL;

-- Every write a log received that is not its field's winner (see sync/merge).
CREATE TABLE log_history (
	log_id    TEXT NOT NULL REFERENCES logs(id),
	field     TEXT NOT NULL,
	value     TEXT NOT NULL,   -- JSON
	hlc       INTEGER NOT NULL,
	device_id TEXT NOT NULL,
	op_id     TEXT NOT NULL,
	base      INTEGER NOT NULL,
	PRIMARY KEY (log_id, field, hlc, device_id, op_id)
) WITHOUT ROWID;

-- One row per operation ever received: its result, written in the same transaction as its
-- effect, so a re-sent operation answers the same result and is applied once.
CREATE TABLE ops (
	op_id        TEXT PRIMARY KEY,
	volunteer_id INTEGER NOT NULL,
	hash         BLOB NOT NULL,    -- of the operation's content, to catch an op id reused for another change
	status       TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
	code         TEXT NOT NULL DEFAULT '',
	message      TEXT NOT NULL DEFAULT '',
	received_at  TEXT NOT NULL,
	CHECK ((status = 'rejected') = (code <> ''))
) WITHOUT ROWID;

-- Targets (chỉ tiêu), versioned per unit, metric and period: the newest version counts.
CREATE TABLE targets (
	unit_id     INTEGER NOT NULL REFERENCES units(id),
	metric      TEXT NOT NULL CHECK (metric <> ''),
	period      TEXT NOT NULL CHECK (period <> ''),
	version     INTEGER NOT NULL CHECK (version >= 1),
	value       REAL NOT NULL CHECK (value >= 0),
	source      TEXT NOT NULL DEFAULT '',
	imported_at TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	PRIMARY KEY (unit_id, metric, period, version)
) WITHOUT ROWID;
CREATE INDEX targets_seq ON targets(seq);
