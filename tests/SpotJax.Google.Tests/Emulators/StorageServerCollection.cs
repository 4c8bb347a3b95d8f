namespace SpotJax.Google.Tests.Emulators;

/// <summary>The tests that share one <see cref="StorageServer"/> (started once per run).</summary>
[CollectionDefinition(Name)]
public sealed class StorageServerCollection : ICollectionFixture<StorageServer>
{
    public const string Name = "Cloud Storage server";
}
