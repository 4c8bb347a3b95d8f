using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Functions.Local;
using SpotJax.Google;
using SpotJax.Google.Firestore;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Storage;
using SpotJax.Local.State;
using SpotJax.Local.Storage;

namespace SpotJax.Cli;

/// <summary>
/// A deployment as the command line sees it, with the same ports the functions use: the job store
/// to read state from, the control bucket for code and logs, and a Pub/Sub publisher for the
/// deployment's jobs topic (<c>PREFIX-jobs</c>, <c>spotjax-jobs</c> by default). On Google Cloud: Firestore, Cloud Storage and Pub/Sub with Application
/// Default Credentials. Locally: the plane's SQLite file and bucket folder, read directly, and the
/// plane's loopback Pub/Sub endpoint (the plane must be running to submit or cancel).
/// </summary>
public sealed class Target : IAsyncDisposable
{
    /// <summary>A Cloud Storage JSON API root other than Google's (the same variable the functions read).</summary>
    public const string StorageApiVariable = "SPOTJAX_STORAGE_API";

    /// <summary>
    /// A folder that stands in for the control bucket (the same variable the functions read): a
    /// deployment on emulators whose workers write to that folder.
    /// </summary>
    public const string BucketDirVariable = "SPOTJAX_BUCKET_DIR";

    private readonly IMessageBus? publisher;
    private readonly string? publisherProblem;
    private readonly Func<string, long, CancellationToken, Task<byte[]?>> readFrom;
    private readonly List<object> owned = [];

    private Target(
        string description, bool isLocal, IJobStore store, IObjectStore objects, IMessageBus? publisher, string? publisherProblem,
        Func<string, long, CancellationToken, Task<byte[]?>> readFrom, Uri? statusUrl, Topics topics, DeploymentSettings? settings = null)
    {
        Description = description;
        Topics = topics;
        Settings = settings;
        IsLocal = isLocal;
        Store = store;
        Objects = objects;
        this.publisher = publisher;
        this.publisherProblem = publisherProblem;
        this.readFrom = readFrom;
        StatusUrl = statusUrl;
    }

    /// <summary>What this is, for messages: the local plane's address or the project and bucket.</summary>
    public string Description { get; }

    public bool IsLocal { get; }
    public IJobStore Store { get; }
    public IObjectStore Objects { get; }

    /// <summary>The status page, where the command line knows it (the local plane's).</summary>
    public Uri? StatusUrl { get; }

    /// <summary>The deployment's topics: <see cref="Publisher"/> publishes jobs and cancels to <see cref="Topics.Jobs"/>.</summary>
    public Topics Topics { get; }

    /// <summary>Where a Google Cloud target's topics and database came from; null for local mode.</summary>
    public DeploymentSettings? Settings { get; }

    /// <summary>Publishes to the deployment's topics (<see cref="Topics"/>).</summary>
    /// <exception cref="CliException">The local plane is not running.</exception>
    public IMessageBus Publisher => publisher ?? throw new CliException(ExitCodes.Unavailable, publisherProblem!);

    /// <summary>The bytes of an object from an offset on (for following a log); null when it does not exist.</summary>
    public Task<byte[]?> ReadFromAsync(string objectName, long offset, CancellationToken cancellationToken) => readFrom(objectName, offset, cancellationToken);

    /// <exception cref="CliException">The folder holds no local deployment.</exception>
    public static Target OpenLocal(string stateDir)
    {
        var plane = LocalPlaneInfo.ReadLive(stateDir);
        var database = Path.Combine(stateDir, "jobs.db");
        if (plane is null && !File.Exists(database))
        {
            throw new CliException(ExitCodes.Unavailable, $"no local control plane in {stateDir}: start one with `spotjax local up --detach`");
        }

        var bucket = plane?.Bucket ?? new LocalControlPlaneOptions { Root = stateDir }.Bucket;
        var store = new SqliteJobStore(database);
        var objects = new FolderObjectStore(Path.Combine(stateDir, "bucket"), bucket);
        HttpClient? http = null;
        IMessageBus? publisher = null;
        if (plane is not null)
        {
            http = new HttpClient();
            publisher = new PubSubPublisher(
                new GoogleApiTransport(http, new FixedTokenSource(plane.Token)),
                new PubSubClientOptions { Project = plane.Project, BaseUri = plane.Url });
        }

        var target = new Target(
            plane is null ? $"the local state in {stateDir} (plane not running)" : $"the local plane at {plane.Url} (state in {stateDir})",
            isLocal: true,
            store,
            objects,
            publisher,
            $"the local control plane in {stateDir} is not running: start it with `spotjax local up --detach`",
            (name, offset, ct) => LogStream.ReadFileFromAsync(objects.LocalPath(name), offset, ct),
            plane?.Url,
            Topics.Default);
        target.owned.AddRange([store, objects]);
        if (http is not null)
        {
            target.owned.Add(http);
        }

        return target;
    }

    /// <summary>
    /// The deployment behind <paramref name="bucket"/>: its topics and Firestore database come from the bucket's
    /// <see cref="DeploymentDescriptor.ObjectName"/> (<see cref="DeploymentSettings"/>).
    /// </summary>
    /// <exception cref="CliException">There are no Application Default Credentials, or the descriptor is malformed.</exception>
    public static async Task<Target> OpenGoogleAsync(string project, string bucket, CancellationToken cancellationToken)
    {
        var endpoints = new GoogleEndpoints(Environment.GetEnvironmentVariable, GcloudConfig.TokenSource());
        var storageApi = Environment.GetEnvironmentVariable(StorageApiVariable) is { Length: > 0 } api ? new Uri(api) : null;
        var bucketDir = Environment.GetEnvironmentVariable(BucketDirVariable) is { Length: > 0 } dir ? dir : null;
        // Without a credentials file the Google libraries would go looking for a metadata server;
        // on a laptop that only means a slow failure, so the missing login is reported at once.
        var needsCredentials = !endpoints.PubSub.IsLocal || !endpoints.Firestore.IsLocal || (storageApi is null && bucketDir is null);
        if (needsCredentials && GcloudConfig.CredentialsFile() is null)
        {
            throw new CliException(ExitCodes.Unavailable, "no Application Default Credentials: run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS)");
        }

        var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        IObjectStore objects;
        Func<string, long, CancellationToken, Task<byte[]?>> readFrom;
        if (bucketDir is not null)
        {
            var folder = new FolderObjectStore(bucketDir, bucket);
            objects = folder;
            readFrom = (name, offset, ct) => LogStream.ReadFileFromAsync(folder.LocalPath(name), offset, ct);
        }
        else
        {
            try
            {
                var gcs = await GcsObjectStore.CreateAsync(new GcsObjectStoreOptions { Bucket = bucket, BaseUri = storageApi }, cancellationToken);
                objects = gcs;
                readFrom = gcs.ReadFromAsync;
            }
            catch (InvalidOperationException e)
            {
                http.Dispose();
                throw new CliException(ExitCodes.Unavailable, $"cannot use the Application Default Credentials: {e.Message}; run `gcloud auth application-default login`");
            }
        }

        DeploymentSettings settings;
        try
        {
            settings = DeploymentSettings.From(bucket, await objects.GetAsync(DeploymentDescriptor.ObjectName, cancellationToken), Environment.GetEnvironmentVariable);
        }
        catch
        {
            await DisposeAsync(objects);
            http.Dispose();
            throw;
        }

        var store = new FirestoreJobStore(
            endpoints.Firestore.CreateTransport(http),
            new FirestoreJobStoreOptions { Project = project, BaseUri = endpoints.Firestore.BaseUri, Database = settings.FirestoreDatabase });
        var publisher = new PubSubPublisher(endpoints.PubSub.CreateTransport(http), new PubSubClientOptions { Project = project, BaseUri = endpoints.PubSub.BaseUri });
        var target = new Target(
            $"project {project}, bucket gs://{bucket}",
            isLocal: false,
            store,
            objects,
            publisher,
            null,
            readFrom,
            null,
            settings.Topics,
            settings);
        target.owned.AddRange([objects, http]);
        return target;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned)
        {
            await DisposeAsync(item);
        }
    }

    private static async ValueTask DisposeAsync(object item)
    {
        switch (item)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }
}
