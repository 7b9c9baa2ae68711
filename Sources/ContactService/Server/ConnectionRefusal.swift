import Dispatch
import JSONRPC

import Glibc

/// Refuses an accepted connection with one JSON-RPC error line, closed so that the client reads it.
///
/// The line is written at once (a fresh socket's send buffer is empty, so a short line fits
/// without blocking), then the sending side is shut down: the client reads the line, then end of
/// file. Closing a socket with the client's request still unread would reset the connection and
/// the client could lose the line, so whatever the client sends is read and discarded until it
/// closes its side or `lingerSeconds` pass, and only then is the descriptor closed.
// @unchecked Sendable: `source` (a non-Sendable Dispatch protocol type) is set in init and then
// touched only by its own handlers and the linger timer, all on `queue`.
final class ConnectionRefusal: @unchecked Sendable {
    /// How long a refused connection is drained at most before it is closed.
    static let lingerSeconds = 0.5

    private let source: any DispatchSourceRead

    /// Writes `error` as one line with a null id to `fd`, and closes `fd` later on `queue`, then
    /// calls `onClosed` there.
    init(fd: Int32, error: RPCError, queue: DispatchQueue, onClosed: @escaping @Sendable () -> Void = {}) {
        let line = RPCDispatcher.errorLine(error)
        _ = line.withUnsafeBytes { Socket.writeSome(fd, $0) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in discardInput(fd) }
        source.setCancelHandler {
            close(fd)
            onClosed()
        }
        source.activate()
        // The timer keeps this object (and so the source) alive until the linger ends.
        queue.asyncAfter(deadline: .now() + Self.lingerSeconds) { [self] in source.cancel() }
    }

    /// Reads and drops what the client sent; cancels (and so closes) at its end of file or on an error.
    private func discardInput(_ fd: Int32) {
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buffer in
            while true {
                let n = Socket.retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
                if n > 0 { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
                source.cancel()
                return
            }
        }
    }
}
