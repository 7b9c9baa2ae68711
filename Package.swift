// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Contacts",
    products: [
        .executable(name: "contactsd", targets: ["contactsd"]),
        .executable(name: "contacts-tasks", targets: ["contacts-tasks"]),
        .executable(name: "contacts", targets: ["contacts"]),
        .executable(name: "contacts-bench", targets: ["contacts-bench"]),
        .library(name: "ContactClient", targets: ["ContactClient"]),
        .library(name: "ContactStore", targets: ["ContactStore"]),
        .library(name: "JSONRPC", targets: ["JSONRPC"]),
        .library(name: "ContactService", targets: ["ContactService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(name: "CLinux"),
        .target(name: "ContactPaths"),
        .target(
            name: "CommandLineConventions",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "MonotonicClock"),
        .target(name: "VCard"),
        .target(name: "Locking", dependencies: ["CLinux"]),
        .target(name: "UnixSocketAddress"),
        .target(name: "Redis", dependencies: ["CHiredis"]),
        .target(
            name: "Tasks",
            dependencies: ["ContactStore", "ContactPaths", "MonotonicClock", "Redis", "Locking", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "CSQLiteVFS", dependencies: ["CSQLite"]),
        .target(name: "ContactStore", dependencies: ["CSQLite", "CSQLiteVFS", "ContactPaths", "MonotonicClock", "Locking"]),
        .target(name: "JSONRPC", dependencies: ["MonotonicClock"]),
        .target(
            name: "ContactsLogging", dependencies: ["JSONRPC", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "ContactClient", dependencies: ["JSONRPC", "UnixSocketAddress", "ContactPaths"]),
        .target(
            name: "ContactService",
            dependencies: [
                "ContactStore", "JSONRPC", "ContactPaths", "UnixSocketAddress", "MonotonicClock", "Locking", "VCard", "CLinux",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "contactsd",
            dependencies: [
                "ContactService", "ContactPaths", "ContactsLogging", "CommandLineConventions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "contacts-tasks",
            dependencies: [
                "Tasks", "Redis", "ContactStore", "ContactPaths", "JSONRPC", "ContactsLogging", "CommandLineConventions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "contacts",
            dependencies: [
                "ContactClient", "ContactPaths", "JSONRPC", "MonotonicClock", "Locking", "CommandLineConventions",
                "UnixSocketAddress", "VCard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "LoadGenerator",
            dependencies: ["UnixSocketAddress", "MonotonicClock", "Locking", "ContactStore", "ContactClient", "JSONRPC"]
        ),
        .executableTarget(
            name: "contacts-bench",
            dependencies: [
                "LoadGenerator", "ContactStore", "ContactService", "JSONRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["CSQLite"], path: "Tests/TestSupport"),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC"], exclude: ["JSONTestSuite"]),
        .testTarget(name: "ContactStoreTests", dependencies: ["ContactStore", "TestSupport", "Locking"]),
        .testTarget(name: "ContactPathsTests", dependencies: ["ContactPaths"]),
        .testTarget(name: "VCardTests", dependencies: ["VCard"]),
        .testTarget(name: "CommandLineConventionsTests", dependencies: ["CommandLineConventions"]),
        .testTarget(
            name: "TasksTests",
            dependencies: ["Tasks", "Redis", "ContactStore", "ContactClient", "TestSupport", "contacts-tasks", "contactsd"]
        ),
        .testTarget(
            name: "ContactServiceTests",
            dependencies: [
                "ContactService", "ContactStore", "ContactClient", "JSONRPC", "LoadGenerator", "TestSupport", "contactsd",
                "contacts", "contacts-tasks",
            ]
        ),
    ]
)

// Package-wide settings in one place: Swift 6 language mode (strict
// concurrency) and explicit `any` for every target.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
