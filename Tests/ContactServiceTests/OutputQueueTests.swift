import Foundation
import Testing
import TestSupport

@testable import ContactService

@Suite("OutputQueue: unsent output as a queue of chunks")
struct OutputQueueTests {
    /// A connected pair of non-blocking stream sockets.
    static func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0 else {
            throw TestFailure("socketpair failed")
        }
        return (fds[0], fds[1])
    }

    @Test(
        "small and large replies come out byte for byte in order, however the socket takes them",
        arguments: [1, 700, 65536, 1 << 20])
    func bytesComeOutInOrder(largeSize: Int) throws {
        let (writer, reader) = try Self.socketPair()
        defer {
            close(writer)
            close(reader)
        }
        var queue = OutputQueue()
        var expected: [UInt8] = []
        for n in 0..<100 {
            let size = n % 7 == 0 ? largeSize : 1 + n % 300
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ n) }
            expected += bytes
            queue.append(bytes)
        }
        #expect(queue.count == expected.count)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)  // a slow reader: small reads
        while received.count < expected.count {
            if case .broken = queue.send(to: writer) { throw TestFailure("the socket broke") }
            let n = read(reader, &buffer, buffer.count)
            if n > 0 { received += buffer[0..<n] }
        }
        #expect(queue.isEmpty && queue.count == 0)
        #expect(received == expected)
        // Usable again after draining.
        queue.append([1, 2, 3])
        _ = queue.send(to: writer)
        #expect(read(reader, &buffer, 3) == 3 && Array(buffer[0..<3]) == [1, 2, 3])
    }

    @Test("a peer that has gone is reported as broken, not as a full socket")
    func brokenPeer() throws {
        let (writer, reader) = try Self.socketPair()
        defer { close(writer) }
        close(reader)
        signal(SIGPIPE, SIG_IGN)
        var queue = OutputQueue()
        queue.append([1, 2, 3])
        guard case .broken = queue.send(to: writer) else {
            Issue.record("a write to a closed peer was not reported as broken")
            return
        }
    }
}
