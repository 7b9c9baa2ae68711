/// Job records for `contacts-tasks`: a task's effect and the record that its job ran commit in
/// one transaction, so a redelivered job finds the record even after its contact is gone.
extension ContactStore {
    /// What `create(_:jobID:)` did.
    package enum JobEffect: Sendable, Equatable {
        /// The contact was created and the job recorded, together.
        case created(Contact)
        /// The job was recorded earlier: nothing was done.
        case alreadyRan
    }

    /// Creates `new` and records `jobID` in the same transaction, unless `jobID` is already
    /// recorded; waits until the write is durable.
    package func create(_ new: NewContact, jobID: String) throws(StoreError) -> JobEffect {
        let author = self.author
        return try wait { completion in
            writer.submit({ db, now throws(StoreError) -> JobEffect in
                try StoreError.translating {
                    if try db.jobRecorded(jobID) { return .alreadyRan }
                    let contact = try db.insertContact(new, now: now, author: author, generated: true)
                    try db.recordJob(jobID, now: now)
                    return .created(contact)
                }
            }, completion: completion)
        }
    }

    /// True when `jobID` is recorded as run.
    package func isJobRecorded(_ jobID: String) throws(StoreError) -> Bool {
        try readers.withReader { db throws(StoreError) in
            do throws(SQLiteError) { return try db.jobRecorded(jobID) } catch { throw .from(error) }
        }
    }

    /// Deletes up to `limit` job records older than `cutoff`; returns how many went.
    package func purgeJobRecords(ranBefore cutoff: Timestamp, limit: Int) throws(StoreError) -> Int {
        try wait { completion in
            writer.submit({ db, _ throws(StoreError) -> Int in
                do throws(SQLiteError) { return try db.purgeJobRecords(ranBefore: cutoff, limit: limit) } catch {
                    throw .from(error)
                }
            }, completion: completion)
        }
    }
}
