namespace SpotJax.Local.Storage;

/// <summary>Settings of <see cref="FolderObjectStore"/>.</summary>
public sealed record FolderObjectStoreOptions
{
    /// <summary>
    /// How often the watcher scans the folder for files written by other processes. A file is
    /// reported once two scans in a row saw it unchanged, so an external write is announced
    /// between one and two intervals after it ends.
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);
}
