import JSONRPC

extension LineFramer {
    /// Every framing event of a fuzz input read as one connection's bytes, fed in two pieces split
    /// where the first byte says, as a socket may deliver them, then ended (EOF).
    static func events(of input: UnsafeRawBufferPointer, maxLineBytes: Int) -> [Event] {
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        var events: [Event] = []
        let cut = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
        framer.feed(UnsafeRawBufferPointer(rebasing: input[0..<cut])) { events.append($0) }
        framer.feed(UnsafeRawBufferPointer(rebasing: input[cut...])) { events.append($0) }
        framer.finish { events.append($0) }
        return events
    }
}
