/// The version every Contacts program reports.
public enum ContactsVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
