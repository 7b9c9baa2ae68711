/// The search index's row id for a contact (`contacts.search_key`): a number that sorts like the
/// username (case-insensitively), so that the index hands out candidates in username order and a
/// search stops after the first `limit` instead of sorting every match.
///
/// Keys are spread over the positive 63-bit range and kept in order as contacts come and go, the
/// way order-maintenance lists do: a new username takes a key between its neighbours' (a fixed
/// stride after the last, so appending in order wastes little room; the middle of the gap
/// otherwise), and when two neighbours' keys are adjacent, the keys of a window of neighbours
/// around the spot are spread out again, the window doubling until it has room
/// (`SQLiteConnection.newSearchKey`). Respacing rewrites those contacts' index rows, which is
/// rare: a gap of 2^32 between two contacts takes 32 insertions at the same spot to use up.
enum SearchKey {
    /// The room left after the last contact, and between contacts when keys are laid out anew.
    static let stride: Int64 = 1 << 32
    /// The most a new key moves away from its lower neighbour inside a gap: small, so that a run
    /// of usernames inserted in order in one gap (`user1a`, `user1b`, …) takes many steps.
    static let step: Int64 = 1 << 20
    /// The least room per contact a respaced window must have.
    static let minimumSpacing: Int64 = 1 << 16
    /// Keys are below this (positive, with room to add a stride without overflow).
    static let limit: Int64 = Int64.max - stride

    /// A key between `lower` and `upper` (exclusive; nil: no neighbour that side), or nil when
    /// they are adjacent.
    static func between(_ lower: Int64?, _ upper: Int64?) -> Int64? {
        let low = lower ?? 0
        guard let upper else { return low < limit - stride ? low + stride : (low < limit - 1 ? low + (limit - low) / 2 : nil) }
        guard upper - low >= 2 else { return nil }
        return low + min(step, (upper - low) / 2)
    }
}
