import ContactStore
import JSONRPC

/// JSON Schemas for discovery, built from the same constants `Validation` enforces, so the
/// limits in `rpc.discover` are the limits the server applies.
enum ContactSchemas {
    static let username = usernameRule(
        "Letters, digits, '.', '_', '-'; starts with a letter or digit; unique case-insensitively.")

    /// The username rule's schema, with `description`.
    private static func usernameRule(_ description: String) -> JSONValue {
        [
            "type": "string", "minLength": 1, "maxLength": .number(JSONNumber(Validation.maxUsernameLength)),
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "description": .string(description),
        ]
    }

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

    static let usernamePrefix: JSONValue = [
        "type": "string", "maxLength": .number(JSONNumber(Validation.maxUsernameLength)),
        "description": "At most 64 bytes of UTF-8 (maxLength counts characters).",
    ]

    static let contactRef: JSONValue = ["$ref": "#/components/schemas/Contact"]

    static let changeRef: JSONValue = ["$ref": "#/components/schemas/Change"]

    /// An author of changes: the username rule, compared case-insensitively.
    static let author = usernameRule(
        "The rule of a username: letters, digits, '.', '_', '-'; starts with a letter or digit.")

    static let authors: JSONValue = [
        "type": "array", "maxItems": .number(JSONNumber(ChangeQuery.maxExcludedAuthors)), "items": author,
        "description": "Compared case-insensitively.",
    ]

    static let seq: JSONValue = [
        "type": "integer", "minimum": 0, "maximum": .number(JSONNumber(ContactMethods.maxVersion)),
    ]

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
        object.append("Change", [
            "type": "object",
            "required": ["seq", "op", "username", "version", "at", "author", "contact"],
            "properties": [
                "seq": ["type": "integer", "minimum": 1], "op": ["enum": ["created", "updated", "deleted"]],
                "username": ["type": "string"],
                "old_username": ["type": "string", "description": "The username before a rename; only on a rename."],
                "version": ["type": "integer", "minimum": 1], "at": ["type": "string", "format": "date-time"],
                "author": ["type": "string"],
                "contact": [
                    "$ref": "#/components/schemas/Contact",
                    "description": "The contact after the change; before it, for a delete.",
                ],
            ],
        ])
        return object
    }()

    static let notFound = RPCErrorSpec(
        code: 404, message: "no contact named \"…\"",
        data: ["type": "object", "properties": ["username": ["type": "string"]]])

    static let gone = RPCErrorSpec(
        code: 410,
        message:
            "the changes after since are no longer kept (or since is beyond the head): "
            + "resync with contacts.list, then follow from its head_seq",
        data: [
            "type": "object", "required": ["oldest", "head_seq"],
            "properties": [
                "reason": ["enum": ["pruned", "beyond_head"]], "since": ["type": "integer"],
                "oldest": ["type": "integer", "description": "The oldest seq kept (head_seq + 1 when none is)."],
                "head_seq": ["type": "integer"],
            ],
        ])

    /// A 409 with the reasons a method can give.
    static func conflict(_ reasons: [String]) -> RPCErrorSpec {
        RPCErrorSpec(
            code: 409, message: "conflict",
            data: ["type": "object", "properties": ["reason": ["enum": .array(reasons.map { .string($0) })]]])
    }
}
