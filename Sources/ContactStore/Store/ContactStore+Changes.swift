/// The change log: history for `contacts.changes`, and its retention.
extension ContactStore {
    /// The changes after `query.since`, read in one snapshot (in `session`, if given).
    /// - Throws: `.changesGone` when changes after `since` are no longer kept (or `since` is
    ///   beyond the head): the caller must resync from `list`.
    public func changes(_ query: ChangeQuery, in session: ReadSession? = nil) throws(StoreError) -> ChangePage {
        try readers.withReader(in: session) { db throws(StoreError) in
            let result: Result<ChangePage, StoreError> = try StoreError.translating {
                try db.inSnapshot { () throws(SQLiteError) in
                    let bounds = try db.changeLogBounds()
                    // `since` is exclusive: the caller has seen it, so the change it needs next
                    // is since + 1, which must still be kept (or not yet exist).
                    guard query.since >= bounds.oldest - 1, query.since <= bounds.head else {
                        return .failure(.changesGone(since: query.since, oldest: bounds.oldest, head: bounds.head))
                    }
                    return .success(try db.fetchChanges(query, head: bounds.head))
                }
            }
            return try result.get()
        }
    }

    /// The oldest kept seq and the head, read in one snapshot.
    public func changeLogBounds(in session: ReadSession? = nil) throws(StoreError) -> ChangeLogBounds {
        try readers.withReader(in: session) { db throws(StoreError) in
            try StoreError.translating { try db.inSnapshot { () throws(SQLiteError) in try db.changeLogBounds() } }
        }
    }

    /// Deletes one chunk of the oldest changes: those committed before `cutoff`, and those beyond
    /// the newest `maxRows`, at most `chunk` of them, oldest first, as one write of the group
    /// commit (so it holds the writer for one small statement); the result is how many went.
    public func pruneChanges(
        before cutoff: Timestamp, maxRows: Int, chunk: Int,
        completion: @escaping @Sendable (Result<Int, StoreError>) -> Void
    ) {
        writer.submit(
            { db, _ throws(StoreError) in
                do throws(SQLiteError) {
                    return try db.pruneChanges(before: cutoff, maxRows: maxRows, chunk: chunk)
                } catch {
                    throw .from(error)
                }
            }, completion: completion)
    }

    /// `pruneChanges(before:maxRows:chunk:completion:)`, waiting for the result.
    public func pruneChanges(before cutoff: Timestamp, maxRows: Int, chunk: Int) throws(StoreError) -> Int {
        try wait { pruneChanges(before: cutoff, maxRows: maxRows, chunk: chunk, completion: $0) }
    }
}
