using SpotJax.Core.Ports;

namespace SpotJax.Local.Storage;

/// <summary>
/// The control bucket of local mode: object <c>a/b/c</c> is the file <c>{root}/a/b/c</c>.
/// <para>
/// Finalize events go to the sinks registered with <see cref="OnFinalize"/>. Writes through
/// <see cref="PutAsync"/> and <see cref="TryCreateAsync"/> are atomic (temporary file, then rename
/// or link) and announced at once. Other processes (the node agent, the training script) write
/// into the folder directly, so a watcher polls it (<see cref="Start"/>; file system notifications
/// miss events under load and on some file systems) and announces every new file and every file
/// whose size or modification time changed, once two scans in a row saw it unchanged, so that a
/// file still being written is not announced half-written. Files and folders whose name starts
/// with '.' are temporary and ignored.
/// </para>
/// <para>
/// The first scan records what is already in the folder without announcing it, as Cloud Storage
/// does not replay finalize events of old objects either. Delivery is at least once: a sink that
/// throws gets the event again on the next scan.
/// </para>
/// </summary>
public sealed class FolderObjectStore : IObjectStore, IAsyncDisposable
{
    private const string TempPrefix = ".tmp-";
    private const string GsScheme = "gs://";

    private readonly FolderObjectStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly Action<string>? _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Observed> _seen = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, PendingEvent> _outbox = [];
    private readonly List<Func<StorageObjectEvent, CancellationToken, Task>> _sinks = [];
    private readonly SemaphoreSlim _scanning = new(1, 1);
    private readonly SemaphoreSlim _delivering = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watcher;
    private Task _deliveryLoop = Task.CompletedTask;
    private bool _deliveryRunning;
    private bool _deliveryRequested;
    private bool _baselineTaken;
    private long _sequence;
    private long _sinkErrors;

    /// <summary>Serves bucket <paramref name="bucket"/> from the folder <paramref name="root"/>, creating the folder.</summary>
    /// <param name="root">The folder holding the objects.</param>
    /// <param name="bucket">The bucket name this folder stands for, as in <c>gs://NAME/...</c>.</param>
    /// <param name="options">Watcher settings; defaults when null.</param>
    /// <param name="time">Clock of the watcher's polling.</param>
    /// <param name="log">Receives one line per sink failure and per failed scan.</param>
    public FolderObjectStore(
        string root, string bucket, FolderObjectStoreOptions? options = null, TimeProvider? time = null, Action<string>? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        _options = options ?? new FolderObjectStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.PollInterval, TimeSpan.Zero, nameof(options));
        _time = time ?? TimeProvider.System;
        _log = log;
        Bucket = bucket;
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        Directory.CreateDirectory(Root);
    }

    /// <inheritdoc />
    public string Bucket { get; }

    /// <summary>The full path of the folder.</summary>
    public string Root { get; }

    /// <summary>Sink calls that threw (each is retried on the next scan).</summary>
    public long SinkErrors => Interlocked.Read(ref _sinkErrors);

    /// <summary>
    /// Adds a receiver of finalize events. Register sinks before writing or starting the watcher:
    /// a sink sees only events raised after it was added.
    /// </summary>
    public void OnFinalize(Func<StorageObjectEvent, CancellationToken, Task> sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_gate)
        {
            _sinks.Add(sink);
        }
    }

    /// <summary>
    /// Starts the watcher. Unless a scan already ran, the files now in the folder are recorded
    /// before this returns, and only later changes are announced. Calling it again does nothing.
    /// </summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (_watcher is not null)
            {
                return;
            }

            _watcher = Task.CompletedTask;
        }

        // Synchronous on purpose: a file written right after Start returns must count as new.
        _scanning.Wait();
        try
        {
            ScanFolder();
        }
        finally
        {
            _scanning.Release();
        }

        var watcher = WatchAsync(_stopping.Token);
        lock (_gate)
        {
            _watcher = watcher;
        }
    }

    /// <summary>
    /// Scans the folder once and delivers every pending event before returning; the watcher does
    /// this every <see cref="FolderObjectStoreOptions.PollInterval"/>. Not to be called from a sink.
    /// </summary>
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        await _scanning.WaitAsync(cancellationToken);
        try
        {
            ScanFolder();
        }
        finally
        {
            _scanning.Release();
        }

        await DeliverPendingAsync(cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The content goes to a temporary file beside the target, is flushed to disk and renamed over
    /// the target, so readers never see half an object. The finalize event is delivered in the
    /// background, as Cloud Storage does.
    /// </remarks>
    /// <exception cref="ArgumentException">The name is not a valid object name.</exception>
    public Task PutAsync(string name, byte[] content, CancellationToken cancellationToken) =>
        WriteAsync(name, content, overwrite: true, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// As <see cref="PutAsync"/>, but the temporary file becomes the target only if no file has its
    /// name, in one step (a hard link on Unix), so that the check holds against other processes
    /// writing into the folder too.
    /// </remarks>
    /// <exception cref="ArgumentException">The name is not a valid object name.</exception>
    public Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellationToken) =>
        WriteAsync(name, content, overwrite: false, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The name is not a valid object name.</exception>
    public async Task<byte[]?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var path = LocalPath(name);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException
            || (ex is UnauthorizedAccessException && Directory.Exists(path)))
        {
            return null;
        }
    }

    /// <inheritdoc />
    /// <remarks>Names are compared ordinally; temporary (dot) files are not listed.</remarks>
    /// <exception cref="ArgumentException">The prefix could not start a valid object name.</exception>
    public Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        ObjectNames.ValidatePrefix(prefix, nameof(prefix));
        var folderPart = prefix[..(prefix.LastIndexOf('/') + 1)];
        var listed = new List<StoredObject>();
        foreach (var (name, path) in EnumerateFiles(Path.Join(Root, folderPart), folderPart))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var file = new FileInfo(path);
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || !file.Exists)
            {
                continue;
            }

            long generation;
            lock (_gate)
            {
                generation = _seen.TryGetValue(name, out var observed) && observed.Announced && observed.Matches(file)
                    ? observed.Generation
                    : NextGeneration(observed, file);
            }

            listed.Add(new StoredObject(name, generation, file.Length, Updated(file)));
        }

        listed.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return Task.FromResult<IReadOnlyList<StoredObject>>(listed);
    }

    /// <summary>The file that holds object <paramref name="objectName"/>.</summary>
    /// <exception cref="ArgumentException">The name is not a valid object name.</exception>
    public string LocalPath(string objectName)
    {
        ObjectNames.Validate(objectName, nameof(objectName));
        return Path.Join(Root, objectName.Replace('/', Path.DirectorySeparatorChar));
    }

    /// <summary>
    /// Maps <c>gs://{Bucket}/{name}</c> to its local path; a trailing '/' (a prefix such as a
    /// checkpoint folder) maps to the folder, and <c>gs://{Bucket}</c> to <see cref="Root"/>.
    /// False for other buckets, other schemes and names that are not valid.
    /// </summary>
    public bool TryResolve(string uri, out string localPath)
    {
        localPath = "";
        if (uri is null || !uri.StartsWith(GsScheme, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = uri[GsScheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var name = slash < 0 ? "" : rest[(slash + 1)..];
        if (!string.Equals(bucket, Bucket, StringComparison.Ordinal))
        {
            return false;
        }

        if (name.EndsWith('/'))
        {
            name = name[..^1];
        }

        if (name.Length == 0)
        {
            localPath = Root;
            return true;
        }

        if (ObjectNames.Problem(name) is not null)
        {
            return false;
        }

        localPath = LocalPath(name);
        return true;
    }

    /// <summary>Stops the watcher and waits for event delivery in progress to end.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? watcher;
        Task deliveryLoop;
        lock (_gate)
        {
            watcher = _watcher;
            deliveryLoop = _deliveryLoop;
        }

        await _stopping.CancelAsync();
        if (watcher is not null)
        {
            await watcher;
        }

        await deliveryLoop;
    }

    /// <summary>Writes through a temporary file; false when <paramref name="overwrite"/> is off and the target exists.</summary>
    private async Task<bool> WriteAsync(string name, byte[] content, bool overwrite, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = LocalPath(name);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $"{TempPrefix}{Guid.NewGuid():N}");
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(content, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            // Rename and record under the lock the scanner records under, so that the scanner
            // either sees the old file or this write as already announced, never a new file.
            bool queued;
            lock (_gate)
            {
                if (overwrite)
                {
                    File.Move(temp, path, overwrite: true);
                }
                else if (!NoReplaceMove.TryMove(temp, path))
                {
                    return false;
                }

                var file = new FileInfo(path);
                if (!_seen.TryGetValue(name, out var observed))
                {
                    observed = new Observed();
                    _seen[name] = observed;
                }

                observed.Size = file.Length;
                observed.WriteTicks = file.LastWriteTimeUtc.Ticks;
                observed.Sequence = ++_sequence;
                queued = Announce(name, observed, file);
            }

            if (queued)
            {
                RequestDelivery();
            }

            return true;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private async Task WatchAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await ScanAsync(stopping);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A folder removed or locked mid-scan; the next tick looks again.
                    _log?.Invoke($"bucket {Bucket}: scan of {Root} failed: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>One pass over the folder; the caller holds <see cref="_scanning"/>.</summary>
    private void ScanFolder()
    {
        var baseline = !_baselineTaken;
        _baselineTaken = true;
        long scanStart;
        lock (_gate)
        {
            scanStart = _sequence;
        }

        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, path) in EnumerateFiles(Root, ""))
        {
            lock (_gate)
            {
                // Stat under the lock: the store's own writes move files into place under it, so
                // what is seen here is never older than what they recorded.
                var file = new FileInfo(path);
                if (file.Exists)
                {
                    present.Add(name);
                    Observe(name, file, baseline);
                }
            }
        }

        lock (_gate)
        {
            // Forget deleted files, so that a file created again under the same name is new;
            // entries recorded after this scan began (by the store's own writes) were not listed, not deleted.
            foreach (var (name, _) in _seen.Where(p => !present.Contains(p.Key) && p.Value.Sequence <= scanStart).ToList())
            {
                _seen.Remove(name);
            }
        }
    }

    /// <summary>Records one scanned file; the caller holds <see cref="_gate"/>.</summary>
    private void Observe(string name, FileInfo file, bool baseline)
    {
        if (!_seen.TryGetValue(name, out var observed))
        {
            _seen[name] = new Observed
            {
                Size = file.Length,
                WriteTicks = file.LastWriteTimeUtc.Ticks,
                Generation = baseline ? file.LastWriteTimeUtc.Ticks : 0,
                Announced = baseline,
                Sequence = ++_sequence,
            };
            return;
        }

        if (!observed.Matches(file))
        {
            // Changed since the last scan: wait for a scan that sees it settled.
            observed.Size = file.Length;
            observed.WriteTicks = file.LastWriteTimeUtc.Ticks;
            observed.Announced = baseline;
            observed.Sequence = ++_sequence;
            return;
        }

        if (!observed.Announced)
        {
            Announce(name, observed, file);
        }
    }

    /// <summary>
    /// Gives the file its new generation and queues its event, unless nobody listens; the caller
    /// holds <see cref="_gate"/>. True when an event was queued.
    /// </summary>
    private bool Announce(string name, Observed observed, FileInfo file)
    {
        observed.Generation = NextGeneration(observed, file);
        observed.Announced = true;
        if (_sinks.Count == 0)
        {
            return false;
        }

        var finalized = new StorageObjectEvent(Bucket, name, observed.Generation, file.Length, Updated(file));
        _outbox.Add(++_sequence, new PendingEvent(finalized, [.. _sinks]));
        return true;
    }

    private void RequestDelivery()
    {
        lock (_gate)
        {
            _deliveryRequested = true;
            if (_deliveryRunning)
            {
                return;
            }

            _deliveryRunning = true;
            _deliveryLoop = Task.Run(DeliveryLoopAsync);
        }
    }

    private async Task DeliveryLoopAsync()
    {
        var stopping = _stopping.Token;
        while (true)
        {
            lock (_gate)
            {
                if (!_deliveryRequested || stopping.IsCancellationRequested)
                {
                    _deliveryRunning = false;
                    return;
                }

                _deliveryRequested = false;
            }

            try
            {
                await DeliverPendingAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Disposed; the loop ends at the check above.
            }
        }
    }

    /// <summary>Hands every queued event to the sinks still owed it, oldest first.</summary>
    private async Task DeliverPendingAsync(CancellationToken cancellationToken)
    {
        await _delivering.WaitAsync(cancellationToken);
        try
        {
            var after = long.MinValue;
            while (true)
            {
                List<KeyValuePair<long, PendingEvent>> batch;
                lock (_gate)
                {
                    batch = [.. _outbox.Where(p => p.Key > after)];
                }

                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var (key, pending) in batch)
                {
                    after = key;
                    var stillOwed = new List<Func<StorageObjectEvent, CancellationToken, Task>>();
                    foreach (var sink in pending.Owed)
                    {
                        if (cancellationToken.IsCancellationRequested)
                        {
                            stillOwed.Add(sink);
                            continue;
                        }

                        try
                        {
                            await sink(pending.Event, cancellationToken);
                        }
                        catch (Exception ex)
                        {
                            stillOwed.Add(sink);
                            if (cancellationToken.IsCancellationRequested)
                            {
                                continue;
                            }

                            Interlocked.Increment(ref _sinkErrors);
                            _log?.Invoke($"bucket {Bucket}: finalize sink failed on {pending.Event.Name}: {ex.Message}");
                        }
                    }

                    lock (_gate)
                    {
                        if (stillOwed.Count == 0)
                        {
                            _outbox.Remove(key);
                        }
                        else
                        {
                            _outbox[key] = pending with { Owed = stillOwed };
                        }
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }
        finally
        {
            _delivering.Release();
        }
    }

    /// <summary>Files under <paramref name="folder"/> as (object name, path), skipping dot entries and symlinked folders.</summary>
    private static IEnumerable<(string Name, string Path)> EnumerateFiles(string folder, string namePrefix)
    {
        List<FileSystemInfo> entries;
        try
        {
            entries = [.. new DirectoryInfo(folder).EnumerateFileSystemInfos()];
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        foreach (var entry in entries)
        {
            if (entry.Name.StartsWith('.'))
            {
                continue;
            }

            var name = namePrefix + entry.Name;
            if (entry is DirectoryInfo directory)
            {
                // A symlinked folder could loop back on itself.
                if (directory.LinkTarget is not null)
                {
                    continue;
                }

                foreach (var nested in EnumerateFiles(directory.FullName, name + "/"))
                {
                    yield return nested;
                }
            }
            else if (ObjectNames.Problem(name) is null)
            {
                yield return (name, entry.FullName);
            }
        }
    }

    /// <summary>
    /// The modification time in ticks, made strictly larger than the previous generation: two
    /// rewrites within one tick of the file system clock still get different generations.
    /// </summary>
    private static long NextGeneration(Observed? previous, FileInfo file) =>
        Math.Max(file.LastWriteTimeUtc.Ticks, (previous?.Generation ?? 0) + 1);

    private static DateTimeOffset Updated(FileInfo file) => new(file.LastWriteTimeUtc, TimeSpan.Zero);

    private sealed class Observed
    {
        public long Size { get; set; }
        public long WriteTicks { get; set; }
        public long Generation { get; set; }
        public bool Announced { get; set; }

        /// <summary>When this entry last changed, in the store's event sequence.</summary>
        public long Sequence { get; set; }

        public bool Matches(FileInfo file) => Size == file.Length && WriteTicks == file.LastWriteTimeUtc.Ticks;
    }

    private sealed record PendingEvent(StorageObjectEvent Event, List<Func<StorageObjectEvent, CancellationToken, Task>> Owed);
}
