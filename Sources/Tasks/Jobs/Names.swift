/// Embedded name lists for `create-random`: common given and family names from several cultures.
enum Names {
    static let first = [
        "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
        "Katherine", "Donald", "Radia", "Tim", "Hedy", "John", "Shafi", "Leslie", "Sophie", "Niklaus",
        "Amara", "Kenji", "Sofia", "Mateo", "Aisha", "Lukas", "Priya", "Wei", "Olga", "Jonas",
        "Fatima", "Diego", "Ingrid", "Tariq", "Yuki", "Chloé", "Björn", "Zofia", "Kwame", "Lucía",
        "Emil", "Noor", "Hana", "Rafael", "Elif", "Marta", "Arjun", "Mei", "Oscar", "Freya",
    ]

    static let last = [
        "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra",
        "Johnson", "Knuth", "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Goldwasser", "Lamport", "Wilson", "Wirth",
        "Okafor", "Tanaka", "Rossi", "García", "Khan", "Müller", "Sharma", "Zhang", "Ivanova", "Nilsson",
        "Haddad", "Fernández", "Larsen", "Aziz", "Sato", "Dubois", "Andersson", "Kowalska", "Mensah", "Moreno",
        "Novak", "Rahman", "Kim", "Costa", "Yılmaz", "Silva", "Patel", "Chen", "Berg", "O'Neill",
    ]
}
