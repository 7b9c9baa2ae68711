import ContactStore
import JSONRPC

extension Contact {
    /// Writes the wire form: username, names, emails, timestamps, version, in that order.
    func write(to writer: inout JSONWriter) {
        writer.writeRaw("{\"username\":")
        writer.writeString(username)
        writer.writeRaw(",\"first_name\":")
        writer.writeString(firstName)
        writer.writeRaw(",\"last_name\":")
        writer.writeString(lastName)
        writer.writeRaw(",\"emails\":[")
        for (index, email) in emails.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            writer.writeString(email.address)
        }
        writer.writeRaw("],\"created_at\":\"")
        createdAt.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"updated_at\":\"")
        updatedAt.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"version\":")
        writer.writeInt(Int(version))
        writer.writeRaw("}")
    }

    /// The wire form as a result fragment.
    var fragment: JSONFragment {
        var writer = JSONWriter(capacity: 256)
        write(to: &writer)
        return JSONFragment(bytes: writer.bytes)
    }
}

/// `{"KEY":[item,…],` and then `rest` (the members after the list, and the closing brace), or nil
/// as soon as the encoding passes `maxBytes` (the reply is then never built in full).
private func listFragment<Item>(
    _ key: String, _ items: [Item], maxBytes: Int, write: (Item, inout JSONWriter) -> Void,
    rest: (inout JSONWriter) -> Void
) -> JSONFragment? {
    var writer = JSONWriter(capacity: 64 + items.count * 300)
    writer.writeRaw("{")
    writer.writeString(key)
    writer.writeRaw(":[")
    for (index, item) in items.enumerated() {
        if index > 0 { writer.writeRaw(",") }
        write(item, &writer)
        if writer.bytes.count > maxBytes { return nil }
    }
    writer.writeRaw("],")
    rest(&writer)
    return JSONFragment(bytes: writer.bytes)
}

extension ContactPage {
    /// `{"contacts": [...], "next_cursor": string|null, "head_seq": integer}`, or nil as soon as
    /// the encoding passes `maxBytes`.
    func fragment(maxBytes: Int) -> JSONFragment? {
        listFragment("contacts", contacts, maxBytes: maxBytes, write: { $0.write(to: &$1) }) { writer in
            writer.writeRaw("\"next_cursor\":")
            if let nextCursor { writer.writeString(nextCursor) } else { writer.writeNull() }
            writer.writeRaw(",\"head_seq\":")
            writer.writeInt(Int(headSeq))
            writer.writeRaw("}")
        }
    }
}

extension Change {
    /// Writes the wire form: seq, op, username, old_username (on a rename only), version, at,
    /// author, contact, in that order.
    func write(to writer: inout JSONWriter) {
        writer.writeRaw("{\"seq\":")
        writer.writeInt(Int(seq))
        writer.writeRaw(",\"op\":")
        writer.writeString(operation.rawValue)
        writer.writeRaw(",\"username\":")
        writer.writeString(username)
        if let oldUsername {
            writer.writeRaw(",\"old_username\":")
            writer.writeString(oldUsername)
        }
        writer.writeRaw(",\"version\":")
        writer.writeInt(Int(version))
        writer.writeRaw(",\"at\":\"")
        at.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"author\":")
        writer.writeString(author)
        writer.writeRaw(",\"contact\":")
        contact.write(to: &writer)
        writer.writeRaw("}")
    }
}

extension ChangePage {
    /// `{"changes": [...], "next": seq}`, or nil as soon as the encoding passes `maxBytes`.
    func fragment(maxBytes: Int) -> JSONFragment? {
        listFragment("changes", changes, maxBytes: maxBytes, write: { $0.write(to: &$1) }) { writer in
            writer.writeRaw("\"next\":")
            writer.writeInt(Int(next))
            writer.writeRaw("}")
        }
    }
}
