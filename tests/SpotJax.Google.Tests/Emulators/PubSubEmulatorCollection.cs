namespace SpotJax.Google.Tests.Emulators;

/// <summary>The test classes that share one <see cref="PubSubEmulator"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PubSubEmulatorCollection : ICollectionFixture<PubSubEmulator>
{
    public const string Name = "Pub/Sub emulator";
}
