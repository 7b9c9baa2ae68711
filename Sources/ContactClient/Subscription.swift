/// What `contacts.subscribe` answered: the subscription's id and the newest change's seq then.
public struct Subscription: Sendable, Equatable {
    /// The opaque id the server's notifications name.
    public var id: String
    /// The newest seq when the subscription began; without `since`, the changes after it arrive.
    public var headSeq: Int

    /// A subscription as the server reports it.
    /// - Parameters:
    ///   - id: the subscription's id.
    ///   - headSeq: the newest seq when it began.
    public init(id: String, headSeq: Int) {
        self.id = id
        self.headSeq = headSeq
    }
}
