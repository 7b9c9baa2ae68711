import ContactStore
import JSONRPC

/// JSON Schemas for discovery, built from the same constants `Validation` enforces, so the
/// limits in `rpc.discover` are the limits the server applies.
enum ContactSchemas {
    static let username: JSONValue = [
        "type": "string", "minLength": 1, "maxLength": .number(JSONNumber(Validation.maxUsernameLength)),
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        "description": "Letters, digits, '.', '_', '-'; starts with a letter or digit; unique case-insensitively.",
    ]

    // Length is checked after trimming, which a plain maxLength cannot say: the pattern allows
    // white space around 1 to 100 characters without control characters.
    static let name: JSONValue = [
        "type": "string",
        "pattern": .string("^\\s*[^\\s\\p{Cc}]([^\\p{Cc}]{0,\(Validation.maxNameLength - 2)}[^\\s\\p{Cc}])?\\s*$"),
        "description": .string("Trimmed; 1 to \(Validation.maxNameLength) characters of any script; no control characters."),
    ]

    static let email: JSONValue = [
        "type": "string", "maxLength": .number(JSONNumber(Validation.maxEmailLength)),
        "pattern": "^\\s*[^@\\s\\p{Cc}]+@[^@\\s.\\p{Cc}]+(\\.[^@\\s.\\p{Cc}]+)+\\s*$",
        "description": "Trimmed; one @, a non-empty local part and a dotted domain; unique case-insensitively.",
    ]

    static let emails: JSONValue = [
        "type": "array", "maxItems": .number(JSONNumber(Validation.maxEmails)), "items": email,
        "description": "No duplicates, compared case-insensitively.",
    ]

    static let version: JSONValue = [
        "type": "integer", "minimum": 1, "maximum": .number(JSONNumber(ContactMethods.maxVersion)),
    ]

    static let limit: JSONValue = [
        "type": "integer", "minimum": 1, "maximum": .number(JSONNumber(ListQuery.maxLimit)),
        "default": .number(JSONNumber(ListQuery.defaultLimit)),
    ]

    static let contactRef: JSONValue = ["$ref": "#/components/schemas/Contact"]

    /// Shared schemas for `components.schemas`.
    static let components: JSONObject = {
        var object = JSONObject()
        object.append("Contact", [
            "type": "object",
            "required": ["username", "first_name", "last_name", "emails", "created_at", "updated_at", "version"],
            "properties": [
                "username": ["type": "string"], "first_name": ["type": "string"], "last_name": ["type": "string"],
                "emails": ["type": "array", "items": ["type": "string"]],
                "created_at": ["type": "string", "format": "date-time"],
                "updated_at": ["type": "string", "format": "date-time"],
                "version": ["type": "integer", "minimum": 1],
            ],
        ])
        return object
    }()

    static let notFound = RPCErrorSpec(
        code: 404, message: "no contact named \"…\"",
        data: ["type": "object", "properties": ["username": ["type": "string"]]])

    /// A 409 with the reasons a method can give.
    static func conflict(_ reasons: [String]) -> RPCErrorSpec {
        RPCErrorSpec(
            code: 409, message: "conflict",
            data: ["type": "object", "properties": ["reason": ["enum": .array(reasons.map { .string($0) })]]])
    }
}
