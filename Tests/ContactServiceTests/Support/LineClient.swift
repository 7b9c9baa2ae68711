import ContactClient
import Foundation
import JSONRPC
import TestSupport

/// A raw-line client for tests, over the client library's blocking connection: sends lines (or
/// any bytes) as they are and reads response lines, with a timeout.
final class LineClient {
    private let connection: LineConnection

    /// - Parameter timeoutSeconds: scaled under sanitizers (`bound`).
    init(path: String, timeoutSeconds: Double = 10) throws {
        do {
            connection = try LineConnection(
                path: path, connectTimeout: bound(timeoutSeconds), readTimeout: bound(timeoutSeconds))
        } catch {
            throw TestFailure("\(error)")
        }
    }

    /// Sends raw bytes as they are.
    func send(raw: [UInt8]) throws {
        do { try connection.send(exactly: raw) } catch { throw TestFailure("\(error)") }
    }

    /// Sends one line (a newline is added).
    func send(_ line: String) throws {
        try send(raw: Array((line + "\n").utf8))
    }

    /// Shuts down the sending side (the server sees EOF).
    func closeWrite() { connection.finishSending() }

    /// Reads one response line; nil on EOF (or a reset connection). Throws on timeout.
    func readLine() throws -> String? {
        do throws(ClientError) {
            return try connection.readLine().map { String(decoding: $0, as: UTF8.self) }
        } catch .connectionClosed {
            return nil
        } catch {
            throw TestFailure("\(error)")
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
