import ContactPaths
import JSONRPC

/// A client for `contactsd`: a typed API over raw JSON-RPC calls on one connection.
///
/// Each instance holds one connection to the server's Unix socket, opened by the initializer and
/// closed when the instance is released. Calls block until the answer arrives (or the read
/// timeout passes), and an instance is for one thread at a time: it is not `Sendable`. Use one
/// client per thread, or per task that may block.
///
/// Requests may be pipelined (``pipeline(_:)``) or sent as one batch (``batch(_:)``); the server
/// answers in order either way. Notifications the server sends between the answers (after
/// ``subscribe(since:usernamePrefix:excludeAuthors:)``) are kept for ``nextNotification()``.
///
/// ```swift
/// let client = try ContactClient(socketPath: ContactClient.defaultSocketPath)
/// let ada = try client.create(username: "ada", firstName: "Ada", lastName: "Lovelace")
/// print(ada.version)  // 1
/// ```
public final class ContactClient {
    /// One request for ``ContactClient/pipeline(_:)`` or ``ContactClient/batch(_:)``.
    public struct Request: Sendable {
        /// The JSON-RPC method, for example `contacts.get` (protocol.md, section 5).
        public var method: String
        /// The params: an object (by name), an array (by position), or nil for none.
        public var params: JSONValue?
        /// A request.
        /// - Parameters:
        ///   - method: the JSON-RPC method.
        ///   - params: an object (by name) or an array (by position); nil sends no `params`.
        public init(method: String, params: JSONValue? = nil) {
            self.method = method
            self.params = params
        }
    }

    private let connection: LineConnection
    private var nextID = 1
    /// Notifications read while waiting for an answer, oldest first.
    private var notifications: [ServerNotification] = []

    /// Connects to the server's socket.
    /// - Parameters:
    ///   - socketPath: the server's Unix socket; ``defaultSocketPath`` finds it the way the
    ///     `contacts` command does.
    ///   - connectTimeout: seconds to wait for the connection.
    ///   - readTimeout: seconds to wait for each answer; 0 waits forever.
    /// - Throws: ``ClientError/cannotConnect(path:reason:)`` when nothing answers on the socket.
    public init(socketPath: String, connectTimeout: Double = 5, readTimeout: Double = 30) throws(ClientError) {
        connection = try LineConnection(path: socketPath, connectTimeout: connectTimeout, readTimeout: readTimeout)
    }

    /// The socket path this client is connected to.
    public var socketPath: String { connection.path }

    /// The socket to connect to when none is given, found as the `contacts` command finds it:
    /// `CONTACTS_SOCKET` when set, else the per-user socket (`$XDG_RUNTIME_DIR/contacts/contactsd.sock`,
    /// else `/tmp/contacts-$UID/contactsd.sock`) when it exists, else the system one,
    /// `/run/contacts/contactsd.sock` (README.md, "Default paths").
    public static var defaultSocketPath: String { ContactPaths.clientSocket() }

    // MARK: Raw JSON-RPC

    /// Calls `method` and returns its result: any method of protocol.md, typed or not here.
    /// - Parameters:
    ///   - method: the JSON-RPC method, for example `server.stats`.
    ///   - params: an object (by name) or an array (by position); nil sends none.
    /// - Returns: the response's `result`, as sent.
    /// - Throws: ``ClientError/server(_:)`` with the error object when the server answers with an
    ///   error; the transport errors of ``ClientError`` when it cannot be reached.
    public func call(method: String, params: JSONValue? = nil) throws(ClientError) -> JSONValue {
        try pipeline([Request(method: method, params: params)])[0].get()
    }

    /// Sends every request at once, then reads the answers, in order: one round trip for many
    /// requests, each answered (and each failing) on its own.
    /// - Parameter requests: the requests, sent in this order.
    /// - Returns: one result per request, in request order; a server error is that element's
    ///   ``ClientError/server(_:)`` failure.
    /// - Throws: a ``ClientError`` when the connection fails or an answer is malformed.
    public func pipeline(_ requests: [Request]) throws(ClientError) -> [Result<JSONValue, ClientError>] {
        var ids: [Int] = []
        var out: [UInt8] = []
        for request in requests {
            let id = takeID()
            ids.append(id)
            out += encode(request, id: id) + [UInt8(ascii: "\n")]
        }
        try connection.send(out)
        var results: [Result<JSONValue, ClientError>] = []
        for id in ids {
            results.append(try decode(readResponse(), expecting: id))
        }
        return results
    }

    /// Sends the requests as one JSON-RPC batch (a JSON array on one line); answers come back in
    /// request order. The server caps a batch at `--max-batch` elements (default 1000).
    /// - Parameter requests: the batch's elements.
    /// - Returns: one result per request, in request order.
    /// - Throws: ``ClientError/server(_:)`` with `-32600` when the server refuses the whole batch
    ///   (empty, or too many elements); a transport ``ClientError`` when the connection fails.
    public func batch(_ requests: [Request]) throws(ClientError) -> [Result<JSONValue, ClientError>] {
        var ids: [Int] = []
        var writer = JSONWriter()
        writer.writeRaw("[")
        for (index, request) in requests.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            let id = takeID()
            ids.append(id)
            writer.writeRaw(encode(request, id: id))
        }
        writer.writeRaw("]")
        try connection.send(writer.bytes)
        let value = try readResponse()
        guard let responses = value.arrayValue else {
            // A batch-level error (e.g. too large) comes back as a single error object.
            throw try decode(value, expecting: nil).failure ?? .invalidResponse("expected an array")
        }
        var byID: [Int: Result<JSONValue, ClientError>] = [:]
        for response in responses {
            guard let id = response.objectValue?["id"]?.numberValue?.intValue else { continue }
            byID[id] = try decode(response, expecting: id)
        }
        return ids.map { byID[$0] ?? .failure(.invalidResponse("no answer for request \($0)")) }
    }

    /// Sends one raw line as it is (the answer, if any, comes from ``readRawLine()``).
    /// - Parameter line: the bytes of one JSON-RPC message; a newline is added when it has none.
    /// - Throws: a transport ``ClientError`` when the connection fails.
    public func sendRaw(_ line: [UInt8]) throws(ClientError) {
        try connection.send(line)
    }

    /// Reads one raw answer line.
    /// - Returns: the line without its newline; nil once the server has closed the connection.
    /// - Throws: ``ClientError/timedOut(path:seconds:)`` when no line comes within the read timeout.
    public func readRawLine() throws(ClientError) -> [UInt8]? {
        try connection.readLine()
    }

    /// The next notification from the server, waiting for one if none has come yet.
    /// - Returns: the notification; nil once the server has closed the connection. Turn it into a
    ///   ``SubscriptionEvent`` to read a subscription's changes.
    /// - Throws: ``ClientError/timedOut(path:seconds:)`` when none comes within the read timeout
    ///   (the connection stays usable: call again to keep waiting).
    public func nextNotification() throws(ClientError) -> ServerNotification? {
        if !notifications.isEmpty { return notifications.removeFirst() }
        guard let line = try connection.readLine() else { return nil }
        let message = try parse(line)
        guard let notification = ServerNotification(message) else {
            throw .invalidResponse("an answer came when no request was waiting for one")
        }
        return notification
    }

    /// Signals that no more requests follow: the server answers what it has, then closes.
    public func finishSending() {
        connection.finishSending()
    }

    // MARK: Typed API

    /// The contact with that username (`contacts.get`).
    /// - Parameter username: the username, in any case: `ADA` finds `ada`.
    /// - Throws: ``ClientError/server(_:)`` with `404` when there is no such contact, `-32602`
    ///   when `username` is not a valid username.
    public func get(_ username: String) throws(ClientError) -> ContactRecord {
        try record(call(method: "contacts.get", params: ["username": .string(username)]))
    }

    /// One page of contacts in username order (`contacts.list`).
    /// - Parameters:
    ///   - limit: the most contacts on the page, 1 to 1000; nil for the server's default (100).
    ///   - cursor: the ``ContactPageRecord/nextCursor`` of the previous page; nil for the first.
    ///   - usernamePrefix: only usernames starting with this (case-insensitive).
    ///   - email: only the contact with this address (case-insensitive).
    /// - Returns: the page, and the cursor of the next one.
    /// - Throws: ``ClientError/server(_:)`` with `-32602` for a `limit` out of range or a cursor
    ///   this server did not issue.
    public func list(limit: Int? = nil, cursor: String? = nil, usernamePrefix: String? = nil, email: String? = nil) throws(ClientError) -> ContactPageRecord {
        var params = JSONObject()
        if let limit { params.append("limit", .number(JSONNumber(limit))) }
        if let cursor { params.append("cursor", .string(cursor)) }
        if let usernamePrefix { params.append("username_prefix", .string(usernamePrefix)) }
        if let email { params.append("email", .string(email)) }
        let result = try call(method: "contacts.list", params: .object(params))
        guard let contacts = result.objectValue?["contacts"]?.arrayValue else {
            throw .invalidResponse("contacts.list result has no contacts array")
        }
        var records: [ContactRecord] = []
        for contact in contacts { records.append(try record(contact)) }
        return ContactPageRecord(contacts: records, nextCursor: result.objectValue?["next_cursor"]?.stringValue)
    }

    /// The contacts matching every word of `query`, best first (`contacts.search`): any fragment
    /// of a username, name or address, accents and case ignored (docs/search.md).
    /// - Parameters:
    ///   - query: the words to find.
    ///   - limit: the most contacts returned, 1 to 100; nil for the server's default (20).
    /// - Throws: ``ClientError/server(_:)`` with `-32602` when `query` holds no word or is too long,
    ///   or `limit` is out of range.
    public func search(_ query: String, limit: Int? = nil) throws(ClientError) -> SearchResultRecord {
        var params = JSONObject()
        params.append("query", .string(query))
        if let limit { params.append("limit", .number(JSONNumber(limit))) }
        let result = try call(method: "contacts.search", params: .object(params))
        guard let contacts = result.objectValue?["contacts"]?.arrayValue else {
            throw .invalidResponse("contacts.search result has no contacts array")
        }
        var records: [ContactRecord] = []
        for contact in contacts { records.append(try record(contact)) }
        return SearchResultRecord(
            contacts: records, hasMore: result.objectValue?["has_more"]?.boolValue ?? false, result: result)
    }

    /// Creates a contact (`contacts.create`), acknowledged once it is committed.
    /// - Parameters:
    ///   - username: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or a digit; unique
    ///     ignoring case.
    ///   - firstName: the first name: 1 to 100 characters after trimming white space.
    ///   - lastName: the last name, by the same rule.
    ///   - emails: at most 20 addresses, each owned by this contact only (ignoring case).
    /// - Returns: the contact as stored, at version 1.
    /// - Throws: ``ClientError/server(_:)`` with `-32602` listing every invalid field, `409` with
    ///   `data.reason` `username_taken` or `email_taken`.
    public func create(username: String, firstName: String, lastName: String, emails: [String] = []) throws(ClientError) -> ContactRecord {
        try record(call(method: "contacts.create", params: [
            "username": .string(username), "first_name": .string(firstName), "last_name": .string(lastName),
            "emails": .array(emails.map { .string($0) }),
        ]))
    }

    /// Updates a contact (`contacts.update`).
    /// - Parameters:
    ///   - username: the contact to change.
    ///   - changes: the other `contacts.update` params, by name: `first_name`, `last_name`,
    ///     `new_username`, `emails` (replaces the list), `add_emails`, `remove_emails`,
    ///     `expected_version`.
    /// - Returns: the contact as stored after the change, its version one higher.
    /// - Throws: ``ClientError/server(_:)`` with `-32602` (invalid or no changes), `404`, `409`
    ///   (`version_mismatch`, `username_taken`, `email_taken`).
    public func update(_ username: String, _ changes: JSONObject) throws(ClientError) -> ContactRecord {
        var params = JSONObject()
        params.append("username", .string(username))
        params.members += changes.members
        return try record(call(method: "contacts.update", params: .object(params)))
    }

    /// Deletes a contact (`contacts.delete`).
    /// - Parameters:
    ///   - username: the contact to delete, in any case.
    ///   - expectedVersion: delete only if the stored version is this one; nil deletes any version.
    /// - Returns: the username as it was stored.
    /// - Throws: ``ClientError/server(_:)`` with `404` when there is no such contact, `409`
    ///   `version_mismatch` when `expectedVersion` is not the stored version.
    @discardableResult
    public func delete(_ username: String, expectedVersion: Int? = nil) throws(ClientError) -> String {
        var params = JSONObject()
        params.append("username", .string(username))
        if let expectedVersion { params.append("expected_version", .number(JSONNumber(expectedVersion))) }
        let result = try call(method: "contacts.delete", params: .object(params))
        return result.objectValue?["username"]?.stringValue ?? username
    }

    // MARK: Encoding and decoding

    private func takeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    private func encode(_ request: Request, id: Int) -> [UInt8] {
        var writer = JSONWriter()
        writer.writeRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.writeInt(id)
        writer.writeRaw(",\"method\":")
        writer.writeString(request.method)
        if let params = request.params {
            writer.writeRaw(",\"params\":")
            writer.writeValue(params)
        }
        writer.writeRaw("}")
        return writer.bytes
    }

    /// The next response line, parsed; notifications before it are kept for `nextNotification()`.
    private func readResponse() throws(ClientError) -> JSONValue {
        while true {
            guard let line = try connection.readLine() else { throw .connectionClosed(path: connection.path) }
            let message = try parse(line)
            guard let notification = ServerNotification(message) else { return message }
            notifications.append(notification)
        }
    }

    private func parse(_ line: [UInt8]) throws(ClientError) -> JSONValue {
        do { return try JSONReader.parse(line) } catch { throw .invalidResponse("not JSON: \(error.reason)") }
    }

    private func decode(_ value: JSONValue, expecting id: Int?) throws(ClientError) -> Result<JSONValue, ClientError> {
        guard let object = value.objectValue, object["jsonrpc"] == .string("2.0") else {
            throw .invalidResponse("not a JSON-RPC 2.0 response")
        }
        if let error = object["error"]?.objectValue {
            let code = error["code"]?.numberValue?.intValue ?? -32603
            let message = error["message"]?.stringValue ?? "unknown error"
            return .failure(.server(RPCError(code: code, message: message, data: error["data"])))
        }
        if let id, object["id"]?.numberValue?.intValue != id {
            throw .invalidResponse("an answer came back for another request")
        }
        guard let result = object["result"] else { throw .invalidResponse("neither result nor error") }
        return .success(result)
    }

    private func record(_ value: JSONValue) throws(ClientError) -> ContactRecord {
        guard let record = ContactRecord(value) else { throw .invalidResponse("not a contact") }
        return record
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
