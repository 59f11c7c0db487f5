package schema

import "time"

// Limits of the sync protocol. They are advertised in docs/PROTOCOL.md and the OpenAPI
// document; a request over a limit is refused with CodeTooLarge and the limit in the message.
const (
	// MaxOpsPerPush bounds the operations in one push. The SDK sends at most DefaultPushBatch.
	MaxOpsPerPush = 1000
	// DefaultPushBatch is the batch size the SDK uses: small enough for 3G, large enough to
	// share one fsync among many operations.
	DefaultPushBatch = 200
	// MaxBodyBytes bounds a push body after gzip decompression.
	MaxBodyBytes = 4 << 20
	// MaxSmallBodyBytes bounds the body of every other JSON request but review decisions.
	MaxSmallBodyBytes = 4 << 10
	// MaxReviewBodyBytes bounds a review request (up to 500 decisions with reasons).
	MaxReviewBodyBytes = 1 << 20
	// MaxNoteRunes bounds a log's note, in characters (not bytes).
	MaxNoteRunes = 500
	// MaxClockAhead is how far an operation's HLC may be ahead of the server's clock. An
	// operation beyond it is rejected with CodeClockAhead, so a phone with a clock years
	// ahead cannot win every conflict forever.
	MaxClockAhead = 10 * time.Minute
	// ClockNoise is the device clock offset below which the server treats a phone's clock as
	// right: offsets this small are network transit time, not a wrong clock.
	ClockNoise = 30 * time.Second
	// ClockOffThreshold is the offset from which a device is shown to coordinators as
	// "đồng hồ thiết bị bị lệch".
	ClockOffThreshold = 5 * time.Minute
	// DefaultPullLimit and MaxPullLimit bound a pull page.
	DefaultPullLimit = 200
	MaxPullLimit     = 1000
	// EarliestOccurredAt is the earliest occurred_at accepted: the teams began in 2021.
	EarliestOccurredAtYear = 2020
)
