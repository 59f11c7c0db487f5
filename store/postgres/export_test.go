package postgres

// The push path's reads by citizen or household ref, for TestPushQueriesUseIndexes.
var PushRefQueries = map[string]string{
	"group logs":         groupLogsQuery,
	"person contribs":    personContribsQuery,
	"household contribs": householdContribsQuery,
}
