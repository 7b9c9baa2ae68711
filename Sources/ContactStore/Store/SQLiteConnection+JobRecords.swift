/// The SQL of `task_runs`: which task-runner jobs have had their effect (schema version 4).
extension SQLiteConnection {
    /// True when `jobID` was recorded as run.
    func jobRecorded(_ jobID: String) throws(SQLiteError) -> Bool {
        try withStatement("SELECT 1 FROM task_runs WHERE job_id = ?1") { statement throws(SQLiteError) in
            statement.bind(jobID, at: 1)
            return try statement.step()
        }
    }

    /// Records `jobID` as run at `now` (inside the transaction that made its effect).
    func recordJob(_ jobID: String, now: Timestamp) throws(SQLiteError) {
        let statement = try statement("INSERT INTO task_runs (job_id, ran_at) VALUES (?1, ?2)")
        statement.bind(jobID, at: 1)
        statement.bind(now.milliseconds, at: 2)
        try statement.run()
    }

    /// Deletes up to `limit` records older than `cutoff`; returns how many went.
    func purgeJobRecords(ranBefore cutoff: Timestamp, limit: Int) throws(SQLiteError) -> Int {
        try deleteChunk(from: "task_runs", key: "job_id", before: cutoff, in: "ran_at", limit: limit)
    }

    /// Deletes up to `limit` rows of `table` whose time `column` is before `cutoff`, by their
    /// primary `key`, in one statement (a purge in small chunks); returns how many went.
    /// (Contacts are purged by `logAndPurgeContacts`, which logs each one.)
    func deleteChunk(from table: String, key: String, before cutoff: Timestamp, in column: String, limit: Int)
        throws(SQLiteError) -> Int
    {
        let statement = try statement(
            "DELETE FROM \(table) WHERE \(key) IN (SELECT \(key) FROM \(table) WHERE \(column) < ?1 LIMIT ?2)")
        statement.bind(cutoff.milliseconds, at: 1)
        statement.bind(Int64(limit), at: 2)
        try statement.run()
        return changes
    }
}
