/// One content line of a vCard: `[group.]NAME;PARAM=VALUE:value`, after unfolding and after the
/// 2.1 transfer encodings (quoted-printable, `CHARSET`) have been undone.
public struct VCardProperty: Sendable, Equatable {
    /// The group prefix (`item1` in `item1.EMAIL`), if any, as written.
    public var group: String?
    /// The property name, upper-cased: `EMAIL`, `X-SKYPE`.
    public var name: String
    /// The parameters in the order written; names upper-cased, values as written (unquoted).
    public var parameters: [VCardParameter]
    /// The value in vCard 4.0 text form: escapes (`\,`, `\;`, `\n`) are kept as written, so the
    /// value writes back byte for byte; `VCardText` splits and unescapes it.
    public var value: String
    /// The line of the input the property starts on (1-based; 0 for a property built in code).
    public var line: Int

    /// Creates a property.
    public init(group: String? = nil, name: String, parameters: [VCardParameter] = [], value: String, line: Int = 0) {
        self.group = group
        self.name = name.uppercased()
        self.parameters = parameters
        self.value = value
        self.line = line
    }

    /// Parses one unfolded vCard 4.0 content line (as `contentLine` writes it); nil when it is not one.
    public init?(contentLine: String) {
        guard case .success(let property) = VCardPropertyParser.parse(Array(contentLine.utf8), line: 0) else { return nil }
        self = property
    }

    /// The values of every parameter called `name` (upper case), in order.
    public func parameter(_ name: String) -> [String] {
        parameters.filter { $0.name == name }.flatMap(\.values)
    }

    /// The value unescaped as one text (`\,` to `,`, `\n` to a newline).
    public var text: String { VCardText.unescape(value) }

    /// The property as one unfolded vCard 4.0 content line, without a line break.
    public var contentLine: String { VCardWriter.unfoldedLine(self) }
}

/// One parameter: `TYPE=work,home` is `VCardParameter(name: "TYPE", values: ["work", "home"])`.
public struct VCardParameter: Sendable, Equatable {
    /// The name, upper-cased.
    public var name: String
    /// The values, unquoted.
    public var values: [String]

    /// Creates a parameter.
    public init(name: String, values: [String]) {
        self.name = name.uppercased()
        self.values = values
    }
}

/// One card: the properties between `BEGIN:VCARD` and `END:VCARD`, `VERSION` included.
public struct VCard: Sendable, Equatable {
    /// Every property in the order written, without `BEGIN` and `END`.
    public var properties: [VCardProperty]
    /// The line of `BEGIN:VCARD` (1-based).
    public var line: Int

    /// Creates a card.
    public init(properties: [VCardProperty], line: Int = 0) {
        self.properties = properties
        self.line = line
    }

    /// The `VERSION` value (`4.0`, `3.0`, `2.1`), if the card has one.
    public var version: String? { first("VERSION")?.value }

    /// The first property called `name` (upper case).
    public func first(_ name: String) -> VCardProperty? {
        properties.first { $0.name == name }
    }

    /// Every property called `name` (upper case), in order.
    public func all(_ name: String) -> [VCardProperty] {
        properties.filter { $0.name == name }
    }
}
