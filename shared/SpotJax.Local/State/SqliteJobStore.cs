using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Local.State;

/// <summary>
/// The job store of local mode: one SQLite file holding <c>jobs</c> (the job document as JSON,
/// with its state and submission time copied into columns for queries) and <c>events</c> (the
/// history). The revision is an integer the store increments on every write, so compare-and-set
/// is a single conditional <c>UPDATE</c>. Every operation opens its own pooled connection, and
/// the file is in WAL mode with a busy timeout, so one store may be used from many threads and
/// several processes may share the file.
/// </summary>
public sealed class SqliteJobStore : IJobStore, IJobEventStore, IDisposable
{
    private const int BusyTimeoutMilliseconds = 10_000;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            revision INTEGER NOT NULL,
            submitted_at TEXT NOT NULL,
            written_at TEXT NOT NULL,
            doc TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
        CREATE INDEX IF NOT EXISTS jobs_by_submitted_at ON jobs (submitted_at);
        CREATE TABLE IF NOT EXISTS events (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (job_id, seq)
        );
        CREATE TABLE IF NOT EXISTS outbox (
            event_id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            doc TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS outbox_by_job ON outbox (job_id);
        CREATE TABLE IF NOT EXISTS deliveries (
            key TEXT PRIMARY KEY,
            claimed_until TEXT,
            outcome TEXT,
            expire_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS deliveries_by_expiry ON deliveries (expire_at);
        """;

    private const string AppendEvent = """
        INSERT INTO events (job_id, seq, doc)
        SELECT @id, COALESCE(MAX(seq), 0) + 1, @doc FROM events WHERE job_id = @id
        RETURNING seq
        """;

    // Derived from JobStateExtensions.IsTerminal so that the query cannot drift from the domain.
    private static readonly string SelectActive =
        "SELECT revision, doc FROM jobs WHERE state NOT IN ("
        + string.Join(", ", Enum.GetValues<JobState>().Where(s => s.IsTerminal()).Select(s => $"'{s.ToWire()}'"))
        + ") ORDER BY submitted_at, rowid";

    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _initializing = new(1, 1);
    private volatile bool _initialized;

    /// <summary>Uses (and on first use creates) the database file at <paramref name="databasePath"/>.</summary>
    /// <param name="databasePath">The SQLite file; its folder must exist.</param>
    /// <param name="time">Clock for the <c>written_at</c> column, which records when the store last wrote a job.</param>
    public SqliteJobStore(string databasePath, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
        }.ToString();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>
    /// Creates the tables and switches the file to WAL mode. Safe to call more than once and from
    /// several processes; every other method calls it on first use.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_initialized)
        {
            return;
        }

        await _initializing.WaitAsync(cancellationToken);
        try
        {
            if (_initialized)
            {
                return;
            }

            await using var connection = await ConnectAsync(cancellationToken);
            // WAL is a property of the file, so setting it once serves every later connection;
            // it cannot change inside a transaction, hence its own statement before the schema.
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            await ExecuteAsync(connection, transaction, Schema, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _initialized = true;
        }
        finally
        {
            _initializing.Release();
        }
    }

    /// <inheritdoc />
    public async Task<bool> TryCreateAsync(Job job, HistoryEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(entry);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var insert = Command(connection, transaction, """
            INSERT INTO jobs (id, state, revision, submitted_at, written_at, doc)
            VALUES (@id, @state, 1, @submitted_at, @written_at, @doc)
            ON CONFLICT (id) DO NOTHING
            """))
        {
            AddJobParameters(insert, job, revision: 1);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await AppendEventAsync(connection, transaction, job, entry, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <inheritdoc />
    public async Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var select = Command(connection, null, "SELECT revision, doc FROM jobs WHERE id = @id");
        select.Parameters.AddWithValue("@id", jobId);
        var jobs = await ReadJobsAsync(select, cancellationToken);
        return jobs.Count == 0 ? null : jobs[0];
    }

    /// <inheritdoc />
    /// <remarks>
    /// A revision that is not one of this store's integers matches nothing, so the update fails
    /// like one with a stale revision.
    /// </remarks>
    public async Task<bool> TryUpdateAsync(Job updated, string expectedRevision, HistoryEntry? entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updated);
        ArgumentNullException.ThrowIfNull(expectedRevision);
        if (!long.TryParse(expectedRevision, NumberStyles.None, CultureInfo.InvariantCulture, out var expected))
        {
            return false;
        }

        await using var connection = await OpenAsync(cancellationToken);
        // Not deferred (BEGIN IMMEDIATE): the write lock is taken up front, so the history
        // sequence read below cannot race another writer, and lock waits honour busy_timeout.
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var update = Command(connection, transaction, """
            UPDATE jobs
            SET state = @state, revision = revision + 1, submitted_at = @submitted_at, written_at = @written_at, doc = @doc
            WHERE id = @id AND revision = @expected
            """))
        {
            AddJobParameters(update, updated, revision: expected + 1);
            update.Parameters.AddWithValue("@expected", expected);
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        if (entry is not null)
        {
            await AppendEventAsync(connection, transaction, updated, entry, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Job>> ListActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var select = Command(connection, null, SelectActive);
        return await ReadJobsAsync(select, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Job>> ListRecentAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var select = Command(
            connection, null, "SELECT revision, doc FROM jobs ORDER BY submitted_at DESC, rowid DESC LIMIT @limit");
        select.Parameters.AddWithValue("@limit", limit);
        return await ReadJobsAsync(select, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var select = Command(connection, null, "SELECT doc FROM events WHERE job_id = @id ORDER BY seq");
        select.Parameters.AddWithValue("@id", jobId);
        var history = new List<HistoryEntry>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            history.Add(Deserialize<HistoryEntry>(reader.GetString(0)));
        }

        return history;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<JobEvent>> ListOutboxAsync(string? jobId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var select = Command(
            connection,
            null,
            jobId is null
                ? "SELECT doc FROM outbox ORDER BY rowid LIMIT @limit"
                : "SELECT doc FROM outbox WHERE job_id = @job ORDER BY rowid LIMIT @limit");
        select.Parameters.AddWithValue("@limit", limit);
        if (jobId is not null)
        {
            select.Parameters.AddWithValue("@job", jobId);
        }

        var events = new List<JobEvent>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(Deserialize<JobEvent>(reader.GetString(0)));
        }

        return events;
    }

    /// <inheritdoc />
    public async Task RemoveFromOutboxAsync(string eventId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var delete = Command(connection, null, "DELETE FROM outbox WHERE event_id = @event");
        delete.Parameters.AddWithValue("@event", eventId);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DeliveryClaim> TryClaimDeliveryAsync(string key, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        // Records past their retention are forgotten here, the one write every delivery makes.
        await using (var forget = Command(connection, transaction, "DELETE FROM deliveries WHERE expire_at <= @now"))
        {
            forget.Parameters.AddWithValue("@now", SortableUtc(now));
            await forget.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var claim = Command(connection, transaction, """
            INSERT INTO deliveries (key, claimed_until, outcome, expire_at) VALUES (@key, @until, NULL, @expire)
            ON CONFLICT (key) DO UPDATE SET claimed_until = @until, expire_at = @expire
            WHERE outcome IS NULL AND (claimed_until IS NULL OR claimed_until <= @now)
            """))
        {
            claim.Parameters.AddWithValue("@key", key);
            claim.Parameters.AddWithValue("@until", SortableUtc(until));
            claim.Parameters.AddWithValue("@now", SortableUtc(now));
            claim.Parameters.AddWithValue("@expire", SortableUtc(now + IJobEventStore.DeliveryRetention));
            if (await claim.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                await transaction.CommitAsync(cancellationToken);
                return DeliveryClaim.Claimed;
            }
        }

        await using var select = Command(connection, transaction, "SELECT outcome FROM deliveries WHERE key = @key");
        select.Parameters.AddWithValue("@key", key);
        var outcome = await select.ExecuteScalarAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return outcome is string ? DeliveryClaim.Completed : DeliveryClaim.Busy;
    }

    /// <inheritdoc />
    public async Task CompleteDeliveryAsync(string key, string outcome, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        await using var connection = await OpenAsync(cancellationToken);
        await using var update = Command(connection, null, """
            INSERT INTO deliveries (key, claimed_until, outcome, expire_at) VALUES (@key, NULL, @outcome, @expire)
            ON CONFLICT (key) DO UPDATE SET claimed_until = NULL, outcome = @outcome, expire_at = @expire WHERE outcome IS NULL
            """);
        update.Parameters.AddWithValue("@key", key);
        update.Parameters.AddWithValue("@outcome", outcome);
        update.Parameters.AddWithValue("@expire", SortableUtc(now + IJobEventStore.DeliveryRetention));
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task ReleaseDeliveryAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var delete = Command(connection, null, "DELETE FROM deliveries WHERE key = @key AND outcome IS NULL");
        delete.Parameters.AddWithValue("@key", key);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Closes the pooled connections, releasing the file.</summary>
    public void Dispose()
    {
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _initializing.Dispose();
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken);
        return await ConnectAsync(cancellationToken);
    }

    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // Per connection, not per file: without it a writer that meets another process's
            // lock fails at once with SQLITE_BUSY instead of waiting its turn.
            await ExecuteAsync(connection, null, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds};", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Appends the history entry and puts its event in the outbox, in the caller's transaction.</summary>
    private static async Task AppendEventAsync(
        SqliteConnection connection, SqliteTransaction transaction, Job job, HistoryEntry entry, CancellationToken cancellationToken)
    {
        long sequence;
        await using (var insert = Command(connection, transaction, AppendEvent))
        {
            insert.Parameters.AddWithValue("@id", job.Id);
            insert.Parameters.AddWithValue("@doc", JsonSerializer.Serialize(entry, SpotJaxJson.Options));
            sequence = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }

        var jobEvent = JobEvent.Of(job, sequence, entry);
        await using var outbox = Command(connection, transaction, "INSERT INTO outbox (event_id, job_id, doc) VALUES (@event, @job, @doc) ON CONFLICT (event_id) DO NOTHING");
        outbox.Parameters.AddWithValue("@event", jobEvent.Id);
        outbox.Parameters.AddWithValue("@job", job.Id);
        outbox.Parameters.AddWithValue("@doc", JsonSerializer.Serialize(jobEvent, SpotJaxJson.Options));
        await outbox.ExecuteNonQueryAsync(cancellationToken);
    }

    private void AddJobParameters(SqliteCommand command, Job job, long revision)
    {
        command.Parameters.AddWithValue("@id", job.Id);
        command.Parameters.AddWithValue("@state", job.State.ToWire());
        command.Parameters.AddWithValue("@submitted_at", SortableUtc(job.SubmittedAt));
        command.Parameters.AddWithValue("@written_at", SortableUtc(_time.GetUtcNow()));
        // The document carries the revision it is stored under, so that a copy read with a
        // plain SQLite tool is self-consistent; reads still take the column as the truth.
        var document = job with { Revision = revision.ToString(CultureInfo.InvariantCulture) };
        command.Parameters.AddWithValue("@doc", JsonSerializer.Serialize(document, SpotJaxJson.Options));
    }

    private static async Task<IReadOnlyList<Job>> ReadJobsAsync(SqliteCommand select, CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var revision = reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);
            jobs.Add(Deserialize<Job>(reader.GetString(1)) with { Revision = revision });
        }

        return jobs;
    }

    private static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, SpotJaxJson.Options)
        ?? throw new InvalidDataException($"the job store holds a null {typeof(T).Name} document");

    /// <summary>UTC with a fixed seven-digit fraction, so that text order is time order.</summary>
    private static string SortableUtc(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static async Task ExecuteAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
