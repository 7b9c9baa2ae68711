import Testing

@testable import ContactStore

/// `ContactStore.importContacts`: one write of the group commit, each card with its own outcome.
@Suite("Importing cards into the store")
struct ImportTests {
    private func card(_ username: String, uid: String, emails: [String]) throws -> ImportedContact {
        ImportedContact(
            usernames: [username], firstName: "First", lastName: username.capitalized,
            emails: emails.map { (Email(address: $0), "EMAIL:" + $0) }, record: VCardRecord(uid: uid))
    }

    private func loggedUsernames(_ store: ContactStore) throws -> [String] {
        try store.changes(ChangeQuery(since: 0)).changes.map(\.username)
    }

    // A card that gets past every check and then breaks a constraint of the emails table: its
    // contact row is written before the failure, so it must be undone.
    private func failingAfterItWrote() throws -> ImportedContact {
        try card("broken", uid: "uid-broken", emails: ["twice@example.com", "twice@example.com"])
    }

    @Test("a card that fails after it wrote is undone alone, with its change-log rows, and the cards around it go in")
    func cardFailingAfterItWroteIsUndoneAlone() throws {
        try withTemporaryStore { store, _ in
            let cards = [
                try card("ada", uid: "uid-ada", emails: ["ada@example.com"]), try failingAfterItWrote(),
                try card("grace", uid: "uid-grace", emails: ["grace@example.com"]),
            ]
            let (outcomes, applied) = try store.importContacts(cards, policy: .skip)
            #expect(applied)
            #expect(outcomes.map(\.status) == [.created, .failed, .created])
            #expect(outcomes[1].error != nil)
            #expect(try store.count() == 2)
            #expect(throws: StoreError.self) { try store.get(username: "broken") }
            #expect(try loggedUsernames(store) == ["ada", "grace"])
            #expect(try store.search(try #require(SearchQuery("broken"))).isEmpty)
            #expect(try store.search(try #require(SearchQuery("grace"))).map(\.username) == ["grace"])
            // The same call again: the two stored are skipped, the broken card fails again alone.
            let again = try store.importContacts(cards, policy: .skip).outcomes
            #expect(again.map(\.status) == [.skipped, .failed, .skipped])
            #expect(try store.count() == 2)
        }
    }

    @Test("a card whose UID is taken fails alone under the fail policy, before it writes anything")
    func takenUIDFailsAloneUnderFailPolicy() throws {
        try withTemporaryStore { store, _ in
            _ = try store.importContacts([try card("ada", uid: "uid-ada", emails: ["ada@example.com"])], policy: .skip)
            let cards = [
                try card("grace", uid: "uid-grace", emails: []),
                try card("ada2", uid: "uid-ada", emails: ["ada2@example.com"]),
                try card("alan", uid: "uid-alan", emails: []),
            ]
            let (outcomes, applied) = try store.importContacts(cards, policy: .fail)
            #expect(applied)
            #expect(outcomes.map(\.status) == [.created, .failed, .created])
            #expect(outcomes[1].error == .uidTaken(uid: "uid-ada", username: "ada"))
            #expect(try loggedUsernames(store) == ["ada", "grace", "alan"])
            #expect(throws: StoreError.self) { try store.get(username: "ada2") }
        }
    }

    @Test("atomic and dry-run calls leave nothing behind, whether a card failed before or after it wrote")
    func atomicAndDryRunLeaveNothing() throws {
        try withTemporaryStore { store, _ in
            let cards = [try card("ada", uid: "uid-ada", emails: ["ada@example.com"]), try failingAfterItWrote()]
            let atomic = try store.importContacts(cards, policy: .skip, atomic: true)
            #expect(!atomic.applied)
            #expect(atomic.outcomes.map(\.status) == [.created, .failed])
            let dry = try store.importContacts([cards[0]], policy: .skip, dryRun: true)
            #expect(!dry.applied)
            #expect(dry.outcomes.map(\.status) == [.created])
            #expect(try store.count() == 0)
            #expect(try loggedUsernames(store).isEmpty)
        }
    }
}
