import Glibc

/// A non-blocking client socket of the load generators: the request bytes not yet sent, the
/// answer bytes not yet split into lines, and when the requests in flight were sent.
class LoadConnection {
    var fd: Int32
    var output: [UInt8] = []
    var written = 0
    var input: [UInt8] = []
    var sentAt: UInt64 = 0

    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// True while part of `output` is not sent yet (poll for `POLLOUT`).
    var hasUnsent: Bool { written < output.count }

    /// Sends what the socket takes of `output` now; returns the errno of a failed send (a full
    /// socket buffer is no failure), else nil.
    func sendSome() -> Int32? {
        guard hasUnsent else { return nil }
        let n = output[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n > 0 {
            written += n
            return nil
        }
        return n < 0 && errno != EAGAIN ? errno : nil
    }
}

/// xorshift64*: cheap and good enough to pick keys.
struct XorShift64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
