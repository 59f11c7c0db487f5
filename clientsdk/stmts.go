package clientsdk

import (
	"context"
	"database/sql"
)

// Statements on the hot paths (Record, a push's results, a pull page) are prepared once at
// Open and reused in every transaction: preparing is a third of the cost of a small
// statement in SQLite, and a phone records and pulls thousands of logs.
var preparedQueries []string

// stmt registers a query to prepare at Open and returns it.
func stmt(query string) string {
	preparedQueries = append(preparedQueries, query)
	return query
}

// prepareAll prepares the registered queries. It runs before any transaction: with one
// connection, preparing on the pool inside a transaction would wait forever.
func (c *Client) prepareAll(ctx context.Context) error {
	c.stmts = make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.stmts[q] = s
	}
	return nil
}

// exec runs a statement on q (the pool or a transaction), prepared if it was registered.
func (c *Client) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	if s := c.stmts[query]; s != nil {
		if tx, ok := q.(*sql.Tx); ok {
			return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
		}
		return s.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, query, args...)
}

// queryRow is exec for a query of one row.
func (c *Client) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if s := c.stmts[query]; s != nil {
		if tx, ok := q.(*sql.Tx); ok {
			return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
		}
		return s.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, query, args...)
}

// query is exec for a query of rows.
func (c *Client) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	if s := c.stmts[query]; s != nil {
		if tx, ok := q.(*sql.Tx); ok {
			return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
		}
		return s.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, query, args...)
}
