/// An email address as the user wrote it (trimmed), with the key it is compared by.
public struct Email: Sendable, Equatable, Hashable {
    /// The address, trimmed, in the case the user gave.
    public let address: String

    /// Wraps an address that has already been validated (or was read from the store).
    public init(address: String) {
        self.address = address
    }

    /// The case-insensitive comparison key: one address belongs to at most one contact.
    public var key: String { address.lowercased() }
}
