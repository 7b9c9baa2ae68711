import Glibc

/// A connection's unsent output: a queue of chunks, sent from the front without ever moving
/// what is left (no array trimmed from the front, so sending N bytes costs O(N) however slowly
/// the client reads).
///
/// Small replies are copied into the tail chunk, so a run of pipelined replies still goes out in
/// one `write`; a large reply becomes a chunk of its own without a copy.
struct OutputQueue {
    private var chunks: [[UInt8]] = []
    /// Index of the first unsent chunk, and the bytes of it already sent.
    private var head = 0
    private var headOffset = 0
    /// Unsent bytes in all.
    private(set) var count = 0

    /// Chunks at most this big take further small replies appended to them.
    private static let coalesceLimit = 64 * 1024

    var isEmpty: Bool { count == 0 }

    /// Queues `bytes` after everything already queued.
    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if bytes.count < Self.coalesceLimit, head < chunks.count,
            chunks[chunks.count - 1].count + bytes.count <= Self.coalesceLimit
        {
            chunks[chunks.count - 1].append(contentsOf: bytes)
        } else {
            // An empty queue may hold one empty kept buffer: drop it, so the front chunk is
            // never empty while bytes are queued.
            if count == 0 { chunks.removeAll(keepingCapacity: true) }
            chunks.append(bytes)
        }
        count += bytes.count
    }

    /// What one `send` did.
    enum SendResult {
        /// This many bytes went out (0: the socket is full).
        case sent(Int)
        /// The peer is gone (EPIPE, ECONNRESET), after this many bytes went out in this call.
        case broken(sent: Int)
    }

    /// Writes as much as the socket takes now, without blocking.
    mutating func send(to fd: Int32) -> SendResult {
        var total = 0
        while count > 0 {
            let n = writeHead(fd)
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return .broken(sent: total)
            }
            total += n
            consume(n)
            if n == 0 { break }
        }
        return .sent(total)
    }

    /// Drops everything queued (the connection is closing).
    mutating func removeAll() {
        chunks = []
        head = 0
        headOffset = 0
        count = 0
    }

    /// Writes from the front chunk (one chunk a call: coalescing keeps chunks near 64 KiB, so
    /// this is no more system calls than a `writev`).
    private func writeHead(_ fd: Int32) -> Int {
        chunks[head].withUnsafeBytes { raw in
            let rest = UnsafeRawBufferPointer(rebasing: raw[headOffset...])
            while true {
                let n = write(fd, rest.baseAddress, rest.count)
                if n >= 0 || errno != EINTR { return n }
            }
        }
    }

    private mutating func consume(_ sent: Int) {
        var left = sent
        count -= sent
        while left > 0 {
            let available = chunks[head].count - headOffset
            if left < available {
                headOffset += left
                return
            }
            left -= available
            head += 1
            headOffset = 0
        }
        if head == chunks.count {
            // Everything sent: keep one small buffer for the next replies, free big ones.
            let keep = chunks.count == 1 && chunks[0].capacity <= Self.coalesceLimit ? chunks[0] : nil
            chunks.removeAll(keepingCapacity: chunks.count <= 16)
            head = 0
            if var buffer = keep {
                buffer.removeAll(keepingCapacity: true)
                chunks.append(buffer)
            }
        } else if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
    }
}
