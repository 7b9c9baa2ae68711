/// Builds an OpenRPC 1.3 document from the method registry: the same declarations that decode
/// and validate params, so the document cannot drift from the code.
public enum OpenRPCDocument {
    /// The OpenRPC version the document follows.
    public static let openrpcVersion = "1.3.2"

    /// The whole document.
    /// - Parameters:
    ///   - title: the service's name, e.g. `contactsd`.
    ///   - version: the server's version.
    ///   - methods: every method the server answers.
    ///   - schemas: shared schemas for `components.schemas` (referenced as `#/components/schemas/NAME`).
    ///   - notifications: what the server sends unasked, listed under `x-notifications` (an
    ///     extension: OpenRPC describes only methods), each `{name, summary, params}`; omitted
    ///     when empty.
    public static func make(
        title: String, version: String, methods: [RPCMethod], schemas: JSONObject,
        notifications: [RPCNotificationSpec] = []
    ) -> JSONValue {
        let list: [JSONValue] = methods.sorted { $0.name < $1.name }.map(describe)
        var document = JSONObject()
        document.append("openrpc", .string(openrpcVersion))
        document.append("info", ["title": .string(title), "version": .string(version)])
        document.append("methods", .array(list))
        if !notifications.isEmpty {
            document.append(
                "x-notifications",
                .array(
                    notifications.map {
                        ["name": .string($0.name), "summary": .string($0.summary), "params": $0.params]
                    }))
        }
        document.append("components", ["schemas": .object(schemas)])
        return .object(document)
    }

    /// An optional param may be sent as null, meaning absent: say so in its type.
    static func allowingNull(_ schema: JSONValue) -> JSONValue {
        guard var object = schema.objectValue, let type = object["type"] else { return schema }
        var types = type.arrayValue ?? [type]
        if !types.contains("null") { types.append("null") }
        object.members = object.members.map { $0.key == "type" ? .init(key: "type", value: .array(types)) : $0 }
        return .object(object)
    }

    static func describe(_ method: RPCMethod) -> JSONValue {
        let params: [JSONValue] = method.params.enumerated().map { position, param in
            [
                "name": .string(param.name), "summary": .string(param.summary), "required": .bool(param.required),
                "schema": param.required ? param.schema : allowingNull(param.schema),
                "x-position": .number(JSONNumber(position)),
            ]
        }
        var standard = [
            RPCErrorSpec(code: -32602, message: "Invalid params", data: [
                "type": "object",
                "properties": ["errors": ["type": "array", "items": ["type": "object", "required": ["field", "message"]]]],
            ])
        ]
        standard.insert(contentsOf: method.errors, at: 0)
        let errors: [JSONValue] = standard.map { error in
            var object = JSONObject()
            object.append("code", .number(JSONNumber(error.code)))
            object.append("message", .string(error.message))
            if let data = error.data { object.append("data", data) }
            return .object(object)
        }
        return [
            "name": .string(method.name), "summary": .string(method.summary), "paramStructure": "either",
            "params": .array(params),
            "result": ["name": .string(method.result.name), "schema": method.result.schema],
            "errors": .array(errors),
        ]
    }
}
