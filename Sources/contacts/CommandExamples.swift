import CommandLineConventions

// The examples each help text ends with (docs/cli.md has one real run of each).

extension ContactsCLI: CommandExamples {
    static let examples = [
        "contacts create ada --first Ada --last Lovelace --email ada@example.com",
        "contacts list --prefix a",
        "contacts get ada --json | jq .emails",
    ]
}

extension ContactsCLI.List: CommandExamples {
    static let examples = [
        "contacts list", "contacts list --limit 20 --prefix gr", "contacts list --all --json | jq -r .username",
    ]
}

extension ContactsCLI.Get: CommandExamples {
    static let examples = ["contacts get ada", "contacts get ADA --json"]
}

extension ContactsCLI.Create: CommandExamples {
    static let examples = [
        "contacts create ada --first Ada --last Lovelace",
        "contacts create grace --first Grace --last Hopper --email grace@navy.example --email gh@navy.example",
    ]
}

extension ContactsCLI.Update: CommandExamples {
    static let examples = [
        "contacts update ada --last King --if-version 1",
        "contacts update ada --add-email ada.king@example.org --remove-email ada@example.com",
        "contacts update ada --rename ada.king",
    ]
}

extension ContactsCLI.Delete: CommandExamples {
    static let examples = ["contacts delete tmp", "contacts delete ada --if-version 3"]
}

extension ContactsCLI.Call: CommandExamples {
    static let examples = [
        #"contacts call contacts.get '["grace"]'"#,
        #"printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"server.ping"}' | contacts call -"#,
    ]
}

extension ContactsCLI.Methods: CommandExamples {
    static let examples = [
        "contacts methods", "contacts methods contacts.update", "contacts methods --json | jq '.methods | length'",
    ]
}

extension ContactsCLI.Stats: CommandExamples {
    static let examples = ["contacts stats", "contacts stats --json | jq .connections"]
}

extension ContactsCLI.Backup: CommandExamples {
    static let examples = ["contacts backup", "contacts backup before-upgrade.db --json | jq -r .path"]
}

extension ContactsCLI.Ping: CommandExamples {
    static let examples = ["contacts ping", "contacts ping --timeout 2s || echo down"]
}
