package store

// SetReplayPositionSQL replaces the query a ReadPool asks a replica connection for its
// replay position (bytes, -1 for none), so a test can stand in for a standby's
// pg_last_wal_replay_lsn(). Call it while no read is running.
func SetReplayPositionSQL(r *ReadPool, sql string) { r.replaySQL = sql }

// OrQuery is orQuery, for the tsquery builder's fuzz target.
var OrQuery = orQuery

// SetExactFilterCap changes how many matching chunks a filtered vector search compares one
// by one before it walks the graph instead, so a test needs few rows.
func SetExactFilterCap(s *Store, n int) { s.exactCap = n }
