import JSONRPC

/// libFuzzer target: the line framer and the JSON reader, as the server reads a connection.
/// Any input must be split into lines and each line parsed or rejected, never crash or hang;
/// a parsed value must write back to JSON that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var framer = LineFramer(maxLineBytes: 64 * 1024)
    // Feed in two pieces, split where the first byte says, as a socket may deliver it.
    let cut = size == 0 ? 0 : Int(input[0]) % (size + 1)
    var lines: [[UInt8]] = []
    framer.feed(UnsafeRawBufferPointer(rebasing: input[0..<cut])) { if case .line(let l) = $0 { lines.append(l) } }
    framer.feed(UnsafeRawBufferPointer(rebasing: input[cut...])) { if case .line(let l) = $0 { lines.append(l) } }
    framer.finish { if case .line(let l) = $0 { lines.append(l) } }
    for line in lines {
        guard let value = try? JSONReader.parse(line) else { continue }
        let again = try? JSONReader.parse(value.jsonBytes)
        precondition(again == value, "a parsed value did not survive writing and reading again")
    }
    return 0
}
