using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// One <see cref="PushDeployment"/> for all the tests of a class, started by the first test that
/// asks (the emulators it needs are fixtures of the test class, not of this one).
/// </summary>
public sealed class PushDeploymentFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim starting = new(1, 1);
    private PushDeployment? deployment;

    public async Task<PushDeployment> GetAsync(PubSubEmulator pubsub, FirestoreEmulator firestore)
    {
        await starting.WaitAsync();
        try
        {
            return deployment ??= await PushDeployment.StartAsync(pubsub, firestore);
        }
        finally
        {
            starting.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (deployment is not null)
        {
            await deployment.DisposeAsync();
        }

        starting.Dispose();
    }
}
