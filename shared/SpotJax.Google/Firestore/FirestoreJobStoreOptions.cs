namespace SpotJax.Google.Firestore;

/// <summary>Where <see cref="FirestoreJobStore"/> keeps the jobs, and how it pages and retries.</summary>
public sealed record FirestoreJobStoreOptions
{
    /// <summary>The Google Cloud project of the Firestore database (any id on the emulator).</summary>
    public required string Project { get; init; }

    /// <summary>The database id.</summary>
    public string Database { get; init; } = "(default)";

    /// <summary>The API root: <see cref="GoogleEndpoints.Firestore"/> picks production or <c>http://$FIRESTORE_EMULATOR_HOST/</c>.</summary>
    public Uri BaseUri { get; init; } = GoogleEndpoints.FirestoreProductionRoot;

    /// <summary>Documents per query page (<see cref="FirestoreJobStore.ListActiveAsync"/>) and per history page.</summary>
    public int PageSize { get; init; } = 300;

    /// <summary>Commits sent for one create or update before a contention or transient error is given up on.</summary>
    public int MaxCommitAttempts { get; init; } = 5;

    /// <summary>The wait before the second commit attempt; it doubles, with jitter, for each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);
}
