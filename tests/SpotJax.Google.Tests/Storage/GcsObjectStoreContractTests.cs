using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Google.Storage;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.Storage;

/// <summary>
/// The object-store contract against <see cref="GcsObjectStore"/> on a real Cloud Storage JSON API server,
/// each test on a bucket of its own, with small list pages so that listing follows page tokens.
/// </summary>
[Collection(StorageServerCollection.Name)]
public sealed class GcsObjectStoreContractTests(StorageServer server) : ObjectStoreContractTests, IAsyncLifetime
{
    private GcsObjectStore? _store;

    protected override IObjectStore Store => _store ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync() => _store = await server.CreateStoreAsync(listPageSize: 5);

    public Task DisposeAsync()
    {
        _store?.Dispose();
        return Task.CompletedTask;
    }
}
