import Testing

@testable import JSONRPC

@Suite("LineFramer")
struct LineFramerTests {
    static let stream = Array("{\"a\":1}\n\r\n\n{\"b\":2}\r\n   \n{\"c\":3}\n".utf8)

    private func frame(_ bytes: [UInt8], chunkSize: Int, max: Int = 64) -> [LineFramer.Event] {
        var framer = LineFramer(maxLineBytes: max)
        var events: [LineFramer.Event] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + chunkSize, bytes.count)
            bytes[start..<end].withUnsafeBytes { framer.feed($0) { events.append($0) } }
            start = end
        }
        framer.finish { events.append($0) }
        return events
    }

    @Test("yields the same lines whatever the chunk size", arguments: 1...20)
    func chunkSizesAgree(chunkSize: Int) {
        let expected: [LineFramer.Event] = [.line(Array("{\"a\":1}".utf8)), .line(Array("{\"b\":2}".utf8)), .line(Array("{\"c\":3}".utf8))]
        #expect(frame(Self.stream, chunkSize: chunkSize) == expected)
    }

    @Test("drops an over-long line, reports it once, and goes on with the next", arguments: [1, 7, 100, 10_000])
    func overLongLine(chunkSize: Int) {
        let bytes = Array((String(repeating: "x", count: 1000) + "\nok\n").utf8)
        #expect(frame(bytes, chunkSize: chunkSize, max: 10) == [.tooLong, .line(Array("ok".utf8))])
    }

    @Test("never holds more than the limit for a line that never ends")
    func boundedMemory() {
        var framer = LineFramer(maxLineBytes: 100)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
        for _ in 0..<1000 {
            chunk.withUnsafeBytes { framer.feed($0) { _ in } }
            #expect(framer.bufferedBytes <= 101)
        }
    }

    @Test("a line of exactly the limit is kept, CRLF included")
    func exactLimit() {
        let line = String(repeating: "y", count: 10)
        #expect(frame(Array((line + "\r\n").utf8), chunkSize: 3, max: 10) == [.line(Array(line.utf8))])
        #expect(frame(Array((line + "z\n").utf8), chunkSize: 3, max: 10) == [.tooLong])
    }

    @Test("lines after a long one do not keep the long line's buffer")
    func shortLinesStaySmall() {
        var framer = LineFramer(maxLineBytes: 1 << 20)
        var events: [LineFramer.Event] = []
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 900_000) + [UInt8(ascii: "\n")]
        long.withUnsafeBytes { framer.feed($0) { events.append($0) } }
        let short = Array("1\n2\n3\n".utf8)
        short.withUnsafeBytes { framer.feed($0) { events.append($0) } }
        #expect(events.count == 4)
        for event in events.dropFirst() {
            guard case .line(let bytes) = event else { Issue.record("expected a line"); continue }
            #expect(bytes.capacity < 1024)
        }
    }

    @Test("an unterminated last line is delivered at the end of the stream")
    func unterminatedLastLine() {
        #expect(frame(Array("abc".utf8), chunkSize: 2) == [.line(Array("abc".utf8))])
    }
}
