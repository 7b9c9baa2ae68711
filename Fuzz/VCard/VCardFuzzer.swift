import VCard

/// libFuzzer target: the vCard reader, fed the input in two chunks split where the input's first
/// byte says, as the CLI feeds a file. Any input must be read into cards and failures, never
/// crash or hang; the events must not depend on where the input was split; a card read must
/// write back as vCard 4.0 that reads again to the same properties.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVCard(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = VCardReader.read(bytes, maxPropertyBytes: 4096)
    let split = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
    var reader = VCardReader(maxPropertyBytes: 4096, maxCardBytes: max(VCardReader.defaultMaxCardBytes, size))
    let chunked = reader.feed(Array(bytes[..<split])) + reader.feed(Array(bytes[split...])) + reader.finish()
    precondition(chunked == whole, "the events depend on where the input was split")
    for case .card(let card) in whole {
        let again = VCardReader.read(VCardWriter.card(card.properties), maxPropertyBytes: 1 << 20)
        guard case .card(let read)? = again.first, again.count == 1 else {
            preconditionFailure("a card read did not write back as one card")
        }
        let expected = card.properties.filter { $0.name != "VERSION" }.map(\.contentLine)
        precondition(read.properties.filter { $0.name != "VERSION" }.map(\.contentLine) == expected,
            "a card did not survive writing and reading again")
    }
    return 0
}
