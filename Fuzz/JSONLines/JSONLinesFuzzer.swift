import JSONRPC

/// libFuzzer target: the line framer and the JSON reader, as the server reads a connection.
/// Any input must be split into lines and each line parsed or rejected, never crash or hang;
/// a parsed value must write back to JSON that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let events = LineFramer.events(of: UnsafeRawBufferPointer(start: data, count: size), maxLineBytes: 64 * 1024)
    for case .line(let line) in events {
        guard let value = try? JSONReader.parse(line) else { continue }
        let again = try? JSONReader.parse(value.jsonBytes)
        precondition(again == value, "a parsed value did not survive writing and reading again")
    }
    return 0
}
