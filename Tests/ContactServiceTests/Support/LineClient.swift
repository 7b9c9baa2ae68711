import Foundation
import JSONRPC
import TestSupport

/// A blocking Unix-socket client that sends raw lines and reads response lines, with a timeout.
final class LineClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(path: String, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // No close here: deinit runs even when a fully initialized init throws, and closes fd.
        guard rc == 0 else { throw TestFailure("connect to \(path) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends raw bytes as they are.
    func send(raw: [UInt8]) throws {
        var sent = 0
        while sent < raw.count {
            let n = raw[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("write failed: errno \(errno)") }
            sent += n
        }
    }

    /// Sends one line (a newline is added).
    func send(_ line: String) throws {
        try send(raw: Array((line + "\n").utf8))
    }

    /// Shuts down the sending side (the server sees EOF).
    func closeWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads one response line; nil on EOF. Throws on timeout.
    func readLine() throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return buffer.isEmpty ? nil : { defer { buffer = [] }; return String(decoding: buffer, as: UTF8.self) }() }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return nil }
                throw TestFailure("read failed or timed out: errno \(errno)")
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Reads one response and parses it.
    func readJSON() throws -> JSONValue {
        guard let line = try readLine() else { throw TestFailure("connection closed before a response") }
        return try JSONReader.parse(Array(line.utf8))
    }

    /// Sends one line and reads the one response.
    func call(_ line: String) throws -> JSONValue {
        try send(line)
        return try readJSON()
    }

    /// Sends a request built from method and params, and reads its response.
    func request(_ method: String, _ params: JSONValue, id: Int = 1) throws -> JSONValue {
        let request: JSONValue = ["jsonrpc": "2.0", "id": .number(JSONNumber(id)), "method": .string(method), "params": params]
        return try call(request.jsonString)
    }
}

extension JSONValue {
    /// Member lookup for tests: `response["error"]?["code"]`.
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// Element lookup for tests.
    subscript(index: Int) -> JSONValue? {
        if case .array(let array) = self, array.indices.contains(index) { return array[index] }
        return nil
    }

    /// The error code of a response, if it is an error.
    var errorCode: Int? { self["error"]?["code"]?.numberValue?.intValue }
}
