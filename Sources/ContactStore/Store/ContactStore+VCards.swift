/// vCard import and export: the contacts' card records (UID and kept lines), through the same
/// write path as every other write.
extension ContactStore {
    /// Most contacts one export page reads.
    public static let maxExportPage = 1000

    /// Imports `contacts` in one write of the group commit, each with its own outcome: a contact
    /// that fails is rolled back alone and the others go in.
    ///
    /// A contact whose UID a stored contact has is handled by `policy`; another is created under
    /// the first free username of its candidates. With `dryRun`, or with `atomic` when any
    /// contact failed, everything is rolled back after the outcomes are known: the outcomes
    /// say what would have happened, and the second value of the result is false.
    public func importContacts(
        _ contacts: [ImportedContact], policy: ImportConflictPolicy, dryRun: Bool = false, atomic: Bool = false,
        author: String? = nil, completion: @escaping @Sendable (Result<(outcomes: [ImportOutcome], applied: Bool), StoreError>) -> Void
    ) {
        let author = author ?? self.author
        writer.submit(
            { db, now throws(StoreError) in
                try db.importContacts(contacts, policy: policy, dryRun: dryRun, atomic: atomic, now: now, author: author)
            }, completion: completion)
    }

    /// `importContacts`, waiting until it is durable (for tools and tests).
    public func importContacts(
        _ contacts: [ImportedContact], policy: ImportConflictPolicy, dryRun: Bool = false, atomic: Bool = false,
        author: String? = nil
    ) throws(StoreError) -> (outcomes: [ImportOutcome], applied: Bool) {
        try wait { importContacts(contacts, policy: policy, dryRun: dryRun, atomic: atomic, author: author, completion: $0) }
    }

    /// Reads one page of contacts in username order after `after` (a username; nil for the
    /// first), each with its card record, in `session` if given. Finish it with `exportPage(_:)`.
    public func readExportPage(after: String?, limit: Int, in session: ReadSession? = nil) throws(StoreError) -> ExportPageRead {
        let rows = try readers.withReader(in: session) { db throws(StoreError) in
            do throws(SQLiteError) { return try db.fetchExportPage(after: after, limit: limit) } catch { throw .from(error) }
        }
        return ExportPageRead(rows: rows)
    }

    /// The contacts of a page read by `readExportPage`. A contact never imported nor exported
    /// gets a random `urn:uuid:` UID here, stored through the write path (so every later export
    /// gives the same); `completion` then runs on the writer's acknowledging thread, else at once.
    public func exportPage(
        _ read: ExportPageRead, completion: @escaping @Sendable (Result<[ExportedContact], StoreError>) -> Void
    ) {
        let page = read.rows
        let missing = page.filter { $0.record == nil }.map(\.id)
        if missing.isEmpty {
            return completion(.success(page.map { ExportedContact(contact: $0.contact, record: $0.record!) }))
        }
        writer.submit(
            { db, _ throws(StoreError) in
                do throws(SQLiteError) { return try db.assignUIDs(missing) } catch { throw .from(error) }
            },
            completion: { result in
                completion(result.map { uids in
                    page.compactMap { row in
                        if let record = row.record { return ExportedContact(contact: row.contact, record: record) }
                        // Deleted between the read and the write: it is not exported.
                        return uids[row.id].map { ExportedContact(contact: row.contact, record: VCardRecord(uid: $0)) }
                    }
                })
            })
    }

    /// `exportPage`, waiting for the UIDs to be stored (for tools and tests).
    public func exportPage(after: String?, limit: Int) throws(StoreError) -> [ExportedContact] {
        let read = try readExportPage(after: after, limit: limit)
        return try wait { exportPage(read, completion: $0) }
    }
}

extension SQLiteConnection {
    /// The body of `ContactStore.importContacts`, inside the writer's savepoint.
    fileprivate func importContacts(
        _ contacts: [ImportedContact], policy: ImportConflictPolicy, dryRun: Bool, atomic: Bool, now: Timestamp,
        author: String
    ) throws(StoreError) -> (outcomes: [ImportOutcome], applied: Bool) {
        try StoreError.translating {
            let logged = pendingChanges.count
            try statement("SAVEPOINT import").run()
            let outcomes: [ImportOutcome]
            if let atOnce = try importAtOnce(contacts, policy: policy, now: now, author: author) {
                outcomes = atOnce
            } else {
                try statement("ROLLBACK TO import").run()
                pendingChanges.removeSubrange(logged...)
                outcomes = try importCardByCard(contacts, policy: policy, now: now, author: author)
            }
            let applied = !dryRun && !(atomic && outcomes.contains { $0.status == .failed })
            if !applied {
                try statement("ROLLBACK TO import").run()
                pendingChanges.removeSubrange(logged...)
            }
            try statement("RELEASE import").run()
            return (outcomes, applied)
        }
    }

    /// Imports every card with no savepoint of its own, or returns nil, for the caller to roll
    /// back, once a card fails after it wrote something. Releasing a savepoint nested in the
    /// call's makes SQLite walk the call's whole in-memory statement journal to truncate it, so
    /// a savepoint per card costs time quadratic in the cards of a call (half the writer's time
    /// in an import of 1,000 cards per call). A card that fails before it writes anything (a
    /// UID taken under `--on-conflict fail`) changes nothing to undo and fails alone here.
    private func importAtOnce(
        _ contacts: [ImportedContact], policy: ImportConflictPolicy, now: Timestamp, author: String
    ) throws(StoreError) -> [ImportOutcome]? {
        var outcomes: [ImportOutcome] = []
        outcomes.reserveCapacity(contacts.count)
        for contact in contacts {
            let (changed, logged) = (totalChanges, pendingChanges.count)
            do throws(StoreError) {
                outcomes.append(try importContact(contact, policy: policy, now: now, author: author))
            } catch {
                // SQLite rolled the whole transaction back (a full disk): the writer reports it.
                guard isInTransaction else { throw error }
                guard totalChanges == changed && pendingChanges.count == logged else { return nil }
                outcomes.append(failedImport(contact, error))
            }
        }
        return outcomes
    }

    /// Imports each card in a savepoint of its own: a card that fails is rolled back alone.
    private func importCardByCard(
        _ contacts: [ImportedContact], policy: ImportConflictPolicy, now: Timestamp, author: String
    ) throws(StoreError) -> [ImportOutcome] {
        try StoreError.translating {
            var outcomes: [ImportOutcome] = []
            outcomes.reserveCapacity(contacts.count)
            for contact in contacts {
                let logged = pendingChanges.count
                try statement("SAVEPOINT card").run()
                do throws(StoreError) {
                    outcomes.append(try importContact(contact, policy: policy, now: now, author: author))
                } catch {
                    guard isInTransaction else { throw error }
                    try statement("ROLLBACK TO card").run()
                    pendingChanges.removeSubrange(logged...)
                    outcomes.append(failedImport(contact, error))
                }
                try statement("RELEASE card").run()
            }
            return outcomes
        }
    }

    private func failedImport(_ contact: ImportedContact, _ error: StoreError) -> ImportOutcome {
        ImportOutcome(status: .failed, username: nil, uid: contact.record.uid, warnings: contact.warnings, error: error)
    }
}
