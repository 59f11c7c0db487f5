// Package clientsdk is the phone side of cdtsync: what a volunteer's app embeds to record
// activity logs offline and sync them when a signal comes.
//
// A Client keeps everything in one local SQLite file (pure Go, modernc.org/sqlite, no
// cgo): the logs as the phone sees them (the pulled server state with the phone's unsynced
// edits laid over it), one outbox of pending operations per enrolled volunteer, each
// volunteer's pull cursor, the reference data for offline pick-lists (hamlets, team,
// activity kinds, targets), the operations the server rejected, and the sync status.
// Credentials (access and refresh tokens, the deployment's citizen key) go to a
// SecretStore: by default a table of the same file, and on a real phone the platform's
// secure storage (Android Keystore, iOS Keychain) through the same interface.
//
// # Recording
//
// Record, Edit and Delete work offline and return at once. Each writes the log change and
// its outbox row in one transaction with synchronous=FULL: when they return, the change
// survives the app being killed and the phone losing power. They make UUIDv7 log and op
// ids, stamp each change with the Client's hybrid logical clock, set an edit's base to the
// log's version as known on the phone, and compute citizen_ref and household_ref on the
// phone (docs/PROTOCOL.md §8). The raw citizen-ID number is never stored or sent.
//
// # Syncing
//
// Sync pushes each enrolled volunteer's outbox in creation order, in batches, with that
// volunteer's own credentials, then pulls what changed. It retries network failures,
// timeouts and 5xx/429 answers with exponential backoff and full jitter, honouring
// Retry-After; it refreshes tokens on 401 (storing the rotated refresh token before using
// it). An operation leaves the outbox only when the server answered applied,
// already_applied or rejected; a rejected one is kept, with the server's code and
// message, in the list Status shows. Sync is safe to interrupt anywhere (a cancelled
// context, Close, the process killed): the next call resends the same operations with the
// same ids and the server applies each exactly once.
//
// # Clocks
//
// Phones' clocks are wrong. The Client's clock follows server time, learned from the
// server_time of every response, and observes every version it pulls, so a phone whose
// clock is days off still stamps its edits in server time and orders them after what it
// has seen. device_time and occurred_at carry the raw phone clock; the server corrects
// them by the offset it measures.
//
// # Shared phones
//
// Several volunteers may be enrolled on one phone (one device id). Each has their own
// credentials, outbox, cursor and logs; Record, Edit, Delete and Logs act for the current
// volunteer (SetCurrent); Sync pushes every volunteer's outbox with its owner's
// credentials. Switching volunteer discards nothing.
//
// One Client file talks to one deployment (one server URL and citizen key).
//
// All methods are safe for concurrent use. Errors are *schema.Error values (or wrap one)
// with the protocol's stable codes; see each method.
package clientsdk
