import JSONRPC

/// A client for `contactsd`: a typed API over raw JSON-RPC calls on one connection.
///
/// Blocking, and for one thread at a time. Requests may be pipelined (`pipeline`) or sent as
/// one batch (`batch`); the server answers in order either way. Notifications the server sends
/// between the answers (after `subscribe`) are kept for `nextNotification()`.
public final class ContactClient {
    /// One request for `pipeline` or `batch`.
    public struct Request: Sendable {
        public var method: String
        public var params: JSONValue?
        /// A request; `params` is an object (by name) or an array (by position).
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
    ///   - connectTimeout: seconds to wait for the connection.
    ///   - readTimeout: seconds to wait for each answer.
    public init(socketPath: String, connectTimeout: Double = 5, readTimeout: Double = 30) throws(ClientError) {
        connection = try LineConnection(path: socketPath, connectTimeout: connectTimeout, readTimeout: readTimeout)
    }

    /// The socket path.
    public var socketPath: String { connection.path }

    // MARK: Raw JSON-RPC

    /// Calls `method` and returns its result.
    /// - Throws: `.server` with the error object when the server answers with an error.
    public func call(method: String, params: JSONValue? = nil) throws(ClientError) -> JSONValue {
        try pipeline([Request(method: method, params: params)])[0].get()
    }

    /// Sends every request at once, then reads the answers, in order.
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

    /// Sends the requests as one JSON-RPC batch; answers come back in request order.
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

    /// Sends one raw line as it is (the answer, if any, comes from `readRawLine`).
    public func sendRaw(_ line: [UInt8]) throws(ClientError) {
        try connection.send(line)
    }

    /// Reads one raw answer line; nil once the server has closed the connection.
    public func readRawLine() throws(ClientError) -> [UInt8]? {
        try connection.readLine()
    }

    /// The next notification from the server, waiting for one if none has come yet; nil once the
    /// server has closed the connection.
    /// - Throws: `.timedOut` when none comes within the read timeout (the connection stays
    ///   usable: call again to keep waiting).
    public func nextNotification() throws(ClientError) -> ServerNotification? {
        if !notifications.isEmpty { return notifications.removeFirst() }
        guard let line = try connection.readLine() else { return nil }
        let message = try parse(line)
        guard let notification = ServerNotification(message) else {
            throw .invalidResponse("an answer came when no request was waiting for one")
        }
        return notification
    }

    /// Signals that no more raw lines follow.
    public func finishSending() {
        connection.finishSending()
    }

    // MARK: Typed API

    /// The contact with that username (case-insensitive).
    public func get(_ username: String) throws(ClientError) -> ContactRecord {
        try record(call(method: "contacts.get", params: ["username": .string(username)]))
    }

    /// One page of contacts in username order.
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

    /// The contacts matching every word of `query`, best first (protocol.md, `contacts.search`).
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

    /// Creates a contact.
    public func create(username: String, firstName: String, lastName: String, emails: [String] = []) throws(ClientError) -> ContactRecord {
        try record(call(method: "contacts.create", params: [
            "username": .string(username), "first_name": .string(firstName), "last_name": .string(lastName),
            "emails": .array(emails.map { .string($0) }),
        ]))
    }

    /// Updates a contact; `params` are the `contacts.update` params besides `username`.
    public func update(_ username: String, _ changes: JSONObject) throws(ClientError) -> ContactRecord {
        var params = JSONObject()
        params.append("username", .string(username))
        params.members += changes.members
        return try record(call(method: "contacts.update", params: .object(params)))
    }

    /// Deletes a contact; returns the username as it was stored.
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
