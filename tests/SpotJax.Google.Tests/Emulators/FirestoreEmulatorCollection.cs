namespace SpotJax.Google.Tests.Emulators;

/// <summary>The tests that share one <see cref="FirestoreEmulator"/> (started once per run).</summary>
[CollectionDefinition(Name)]
public sealed class FirestoreEmulatorCollection : ICollectionFixture<FirestoreEmulator>
{
    public const string Name = "Firestore emulator";
}
