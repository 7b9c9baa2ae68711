// swift-tools-version:6.1
// A program outside the Contacts package that uses its ContactClient library, the way any other
// Swift package would: a dependency on the package, and the `ContactClient` product.
import PackageDescription

let package = Package(
    name: "ContactsQuickstart",
    dependencies: [
        // Here by path (the repository's root); elsewhere `.package(url: "…/contacts.git", from: "0.1.0")`.
        // `name:` because a path dependency's identity is its directory's name, which varies
        // between clones; the name lets `.product(package:)` below say "Contacts" in any of them.
        .package(name: "Contacts", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "contacts-quickstart",
            dependencies: [.product(name: "ContactClient", package: "Contacts")]
        ),
    ]
)
