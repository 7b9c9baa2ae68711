/// Splits a byte stream into lines, with a cap on line length. Knows nothing of JSON.
///
/// Bytes arrive in arbitrary chunks; complete lines come out in order. A line longer than
/// `maxLineBytes` is not kept: the framer drops the rest of it up to the next `\n` and reports
/// `.tooLong` in its place, so memory stays bounded whatever a client sends. A trailing `\r` is
/// removed (so `\r\n` works) and blank lines are skipped.
public struct LineFramer: Sendable {
    /// One framing event.
    public enum Event: Sendable, Equatable {
        /// A complete line, without its terminator.
        case line([UInt8])
        /// A line longer than the limit was dropped.
        case tooLong
    }

    /// Longest line kept, in bytes (terminator excluded).
    public let maxLineBytes: Int
    private var partial: [UInt8] = []
    private var discarding = false

    /// A framer that keeps lines up to `maxLineBytes` long.
    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes held for an unfinished line.
    public var bufferedBytes: Int { partial.count }

    /// True between the first byte of a line and its newline (including while an oversized line
    /// is being skipped).
    public var isMidLine: Bool { discarding || !partial.isEmpty }

    /// Feeds a chunk and calls `emit` for every event it completes, in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (Event) -> Void) {
        var start = 0
        let count = chunk.count
        while start < count {
            guard let newline = chunk[start..<count].firstIndex(of: UInt8(ascii: "\n")) else {
                append(chunk[start..<count])
                return
            }
            append(chunk[start..<newline])
            finishLine(emit)
            start = newline + 1
        }
    }

    /// Ends the stream: an unterminated last line still counts, so `printf '{...}' | socat` works.
    public mutating func finish(_ emit: (Event) -> Void) {
        if discarding || !partial.isEmpty { finishLine(emit) }
    }

    private mutating func append(_ bytes: Slice<UnsafeRawBufferPointer>) {
        if discarding { return }
        // One byte of slack for the `\r` of a `\r\n` that may still come.
        if partial.count + bytes.count > maxLineBytes + 1 {
            discarding = true
            partial = []
            return
        }
        partial.append(contentsOf: bytes)
    }

    private mutating func finishLine(_ emit: (Event) -> Void) {
        if discarding {
            discarding = false
            emit(.tooLong)
            return
        }
        if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
        if partial.count > maxLineBytes {
            partial = []
            emit(.tooLong)
            return
        }
        if partial.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) {
            partial.removeAll(keepingCapacity: true)
            return
        }
        // An exact-size copy: the emitted line must not carry the buffer's spare capacity (after
        // one long line that is up to the line limit), or queued short lines would each hold it.
        let line = [UInt8](unsafeUninitializedCapacity: partial.count) { buffer, count in
            _ = buffer.initialize(from: partial)
            count = partial.count
        }
        if partial.capacity > 64 * 1024 {
            partial = []
        } else {
            partial.removeAll(keepingCapacity: true)
        }
        emit(.line(line))
    }
}
