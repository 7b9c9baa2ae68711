import ContactStore
/// What the load generator sends.
public enum Scenario: String, Sendable, CaseIterable {
    /// `contacts.get` of a random seeded contact.
    case get
    /// `contacts.create` of a new unique contact.
    case create
    /// `contacts.list` with limit 50 from a random starting prefix.
    case list
    /// 80% get, 10% create, 5% update, 5% list.
    case mix
    /// `server.ping`: the transport and JSON-RPC layers without the database (a baseline).
    case ping
    /// `contacts.search`, limit 20, of a random three-letter fragment of a seed name
    /// (`SeedNames`), anywhere in the name.
    case search
}

/// Builds request lines without allocating in the hot loop. A get is written straight into the
/// buffer, for a key drawn anew each time (uniform over every seeded contact, however many);
/// lists, updates and the mix come from a pool built up front; creates need unique names and
/// are built each time.
struct RequestBuilder {
    let scenario: Scenario
    let seeded: Int
    let firstSeeded: Int
    let tag: String
    private var counter = 0
    private var generator: XorShift64
    private var pool: [[UInt8]] = []
    private var next = 0

    init(scenario: Scenario, seeded: Int, firstSeeded: Int = 0, tag: String, seed: UInt64) {
        self.scenario = scenario
        self.seeded = max(seeded, firstSeeded + 1)
        self.firstSeeded = firstSeeded
        self.tag = tag
        self.generator = XorShift64(seed: seed)
        if scenario != .create && scenario != .get {
            // 20 kinds per mix cycle; the pool holds whole cycles so the mix ratio stays exact.
            for _ in 0..<4096 {
                var line: [UInt8] = []
                appendFresh(to: &line)
                pool.append(line)
            }
        }
    }

    /// Appends one request line (with its newline) to `buffer`.
    mutating func append(to buffer: inout [UInt8]) {
        if scenario == .get {
            appendGet(to: &buffer)
            return
        }
        if pool.isEmpty {
            appendFresh(to: &buffer)
            return
        }
        let line = pool[next]
        next = (next + 1) % pool.count
        if line.isEmpty {
            counter += 1
            appendCreate(to: &buffer)
        } else {
            buffer += line
        }
    }

    private mutating func random() -> UInt64 { generator.next() }

    /// A new request line; in the pool, an empty line stands for "a create, built when sent".
    private mutating func appendFresh(to buffer: inout [UInt8]) {
        counter += 1
        var kind = scenario
        if scenario == .mix {
            switch counter % 20 {
            case 0, 1: kind = .create
            case 2: kind = .list
            case 3: appendUpdate(to: &buffer); return
            default: kind = .get
            }
        }
        switch kind {
        case .get:
            let user = firstSeeded + Int(random() % UInt64(seeded - firstSeeded))
            buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"contacts.get","params":{"username":"\#(Seeder.username(user))"}}"#.utf8)
        case .create:
            if scenario == .create { appendCreate(to: &buffer) }
            return
        case .ping:
            buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"server.ping"}"#.utf8)
        case .search:
            buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"contacts.search","params":{"query":"\#(fragment())","limit":20}}"#.utf8)
        case .list, .mix:
            let user = firstSeeded + Int(random() % UInt64(seeded - firstSeeded))
            let cursor = cursorAfter(Seeder.username(user))
            buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"contacts.list","params":{"limit":50,"cursor":"\#(cursor)"}}"#.utf8)
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    private static let getHead = Array(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":"user"#.utf8)
    private static let getTail = Array(#""}}"#.utf8) + [UInt8(ascii: "\n")]

    /// A get of a random seeded contact, written in place: `Seeder.username`'s digits, no String.
    /// (The id is always 1: answers come back in order on a connection, and only the lines are counted.)
    private mutating func appendGet(to buffer: inout [UInt8]) {
        var user = firstSeeded + Int(random() % UInt64(seeded - firstSeeded))
        buffer += Self.getHead
        var digits = 1
        while digits < 7 || user >= power10(digits) { digits += 1 }
        var divisor = power10(digits - 1)
        for _ in 0..<digits {
            buffer.append(UInt8(ascii: "0") + UInt8(user / divisor))
            user %= divisor
            divisor /= 10
        }
        buffer += Self.getTail
    }

    private func power10(_ exponent: Int) -> Int {
        var value = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Three characters of a random seed name, from a random place in it.
    private mutating func fragment() -> String {
        let names = random() % 2 == 0 ? SeedNames.first : SeedNames.last
        let name = Array(names[Int(random() % UInt64(names.count))])
        let start = Int(random() % UInt64(max(1, name.count - 2)))
        return String(name[start..<min(name.count, start + 3)])
    }

    private mutating func appendCreate(to buffer: inout [UInt8]) {
        buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"contacts.create","params":{"username":"b-\#(tag)-\#(counter)","first_name":"Bench","last_name":"Mark","emails":["b-\#(tag)-\#(counter)@example.com"]}}"#.utf8)
        buffer.append(UInt8(ascii: "\n"))
    }

    private mutating func appendUpdate(to buffer: inout [UInt8]) {
        let user = firstSeeded + Int(random() % UInt64(seeded - firstSeeded))
        buffer += Array(#"{"jsonrpc":"2.0","id":\#(counter),"method":"contacts.update","params":{"username":"\#(Seeder.username(user))","last_name":"Updated\#(counter % 100)"}}"#.utf8)
        buffer.append(UInt8(ascii: "\n"))
    }

    /// A cursor that starts a list page after `username`, made the way the server makes them
    /// (`ListCursor`, with its checksum): the bench starts pages anywhere, which a real client
    /// must not do.
    private func cursorAfter(_ username: String) -> String {
        ListCursor.encode(after: username)
    }
}
