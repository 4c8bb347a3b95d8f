using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.Firestore;

/// <summary>
/// The production job store over the Firestore REST API v1 (or the Firestore emulator), through
/// <see cref="GoogleApiTransport"/>. A job is the document <c>jobs/{jobId}</c> with one typed
/// field per property (<see cref="FirestoreValues"/>), so it reads naturally in the console; its
/// history is the subcollection <c>jobs/{jobId}/events/{seq}</c>, <c>seq</c> zero-padded to ten
/// digits so that document order is history order.
/// </summary>
/// <remarks>
/// <para>
/// The revision is the document's <c>updateTime</c>. Every write is one <c>:commit</c> carrying a
/// precondition (<c>exists: false</c> to create, <c>updateTime</c> to update) and the history
/// entry, so the job and its history change together or not at all, and two writers holding one
/// revision cannot both win: the loser's commit fails with FAILED_PRECONDITION and is reported as
/// a lost race (false), never retried.
/// </para>
/// <para>
/// Besides the job's own fields the document holds <c>historyLength</c> (the number of events,
/// read before an update to name the next one, so the name is taken inside the winning commit and
/// cannot collide), <c>writeId</c> (a fresh id per write, see <see cref="TryUpdateAsync"/>) and,
/// when needed, <see cref="FirestoreValues.ExactTimesField"/>.
/// </para>
/// </remarks>
public sealed class FirestoreJobStore : IJobStore, IJobEventStore
{
    /// <summary>The collection of job documents.</summary>
    public const string JobsCollection = "jobs";

    /// <summary>The subcollection of each job that holds its history.</summary>
    public const string EventsCollection = "events";

    /// <summary>
    /// The outbox: <c>outbox/{jobId}~{seq}</c> holds the <see cref="JobEvent"/> of history entry <c>seq</c>
    /// until it was published, written in the commit that wrote the entry.
    /// </summary>
    public const string OutboxCollection = "outbox";

    /// <summary>Webhook delivery records, <c>deliveries/{eventId with '/' as '~'}</c>.</summary>
    public const string DeliveriesCollection = "deliveries";

    /// <summary>The number of history entries, kept on the job document.</summary>
    public const string HistoryLengthField = "historyLength";

    /// <summary>The id of the commit that last wrote the job document.</summary>
    public const string WriteIdField = "writeId";

    private const int SequenceDigits = 10;
    private const string ClaimedUntilField = "claimedUntil";
    private const string OutcomeField = "outcome";

    /// <summary>
    /// A delivery record's expiry, a timestamp value: the TTL policy on <c>deliveries.expireAt</c> (infra/firestore.tf)
    /// has Firestore delete the record after it (https://cloud.google.com/firestore/docs/ttl).
    /// </summary>
    public const string ExpireAtField = "expireAt";

    private static readonly string StateField = JsonName(nameof(Job.State));
    private static readonly string SubmittedAtField = JsonName(nameof(Job.SubmittedAt));
    private static readonly string RevisionField = JsonName(nameof(Job.Revision));

    // An IN of the active states rather than a NOT_IN of the terminal ones: NOT_IN forces the
    // results to be ordered by state first, which would break the cursor on __name__.
    private static readonly JsonObject ActiveStates = FirestoreValues.Array(
        Enum.GetValues<JobState>().Where(s => !s.IsTerminal()).Select(s => FirestoreValues.String(s.ToWire())));

    private readonly GoogleApiTransport _transport;
    private readonly FirestoreJobStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly string _documentsName;
    private readonly string _documentsUri;

    /// <summary>A store for one database; it sends nothing until called.</summary>
    /// <param name="transport">Authentication, deadlines and retries of idempotent calls.</param>
    /// <param name="options">Project, database, API root, paging and commit retries.</param>
    /// <param name="time">The clock of the backoff between commit attempts.</param>
    public FirestoreJobStore(GoogleApiTransport transport, FirestoreJobStoreOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PageSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxCommitAttempts, 1, nameof(options));
        _transport = transport;
        _options = options;
        _time = time ?? TimeProvider.System;
        _documentsName = $"projects/{Segment(options.Project, nameof(options))}/databases/{Segment(options.Database, nameof(options))}/documents";
        var root = options.BaseUri.AbsoluteUri;
        _documentsUri = (root.EndsWith('/') ? root : root + "/") + "v1/" + _documentsName;
    }

    /// <inheritdoc />
    /// <remarks>The job document is written with the precondition <c>exists: false</c>; ALREADY_EXISTS is the false answer.</remarks>
    public async Task<bool> TryCreateAsync(Job job, HistoryEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(entry);
        var writeId = NewWriteId();
        return await CommitAsync(CreateCommit(job, entry, writeId), job.Id, writeId, stored => stored is null, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken)
    {
        var document = await GetDocumentAsync(jobId, cancellationToken);
        return document is null ? null : ToJob(document);
    }

    /// <inheritdoc />
    /// <remarks>
    /// <para>
    /// Reads the document first: a stale revision (or a missing job, or a revision that is not a
    /// timestamp) is a lost race without a commit, and the read gives the history length that
    /// names the new event. The commit's <c>updateTime</c> precondition then makes that read
    /// authoritative: if anyone wrote in between, the commit fails and the answer is false.
    /// </para>
    /// <para>
    /// Retries. A commit is not idempotent in general, so the transport never resends one. This
    /// store resends it itself, up to <see cref="FirestoreJobStoreOptions.MaxCommitAttempts"/>
    /// times, after ABORTED (contention: the commit was not applied) and after the transient
    /// errors whose outcome is unknown (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...). Resending
    /// is safe because of the precondition: a commit can be applied at most once, a second copy
    /// fails it. What a resend cannot tell alone is whether a failed precondition means "someone
    /// else won" or "my earlier copy won"; every copy therefore carries the same
    /// <see cref="WriteIdField"/>, and after any failed attempt the document is read back: our
    /// write id means we won, a changed document means we lost, an unchanged one means nothing was
    /// applied and the commit may be sent again. When the attempts run out the last error is
    /// thrown (a <see cref="GoogleApiException"/>, transient): the outcome may then be unknown,
    /// and the caller's redelivery reads the job afresh.
    /// </para>
    /// </remarks>
    public async Task<bool> TryUpdateAsync(Job updated, string expectedRevision, HistoryEntry? entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updated);
        ArgumentNullException.ThrowIfNull(expectedRevision);
        if (!FirestoreValues.TryParseTimestamp(expectedRevision, out var expected))
        {
            return false;
        }

        var current = await GetDocumentAsync(updated.Id, cancellationToken);
        if (current is null || !IsRevision(current, expected))
        {
            return false;
        }

        var length = FirestoreValues.ReadInteger(current.Fields?[HistoryLengthField]) ?? 0;
        var writeId = NewWriteId();
        var commit = UpdateCommit(updated, current.UpdateTime!, length, entry, writeId);
        return await CommitAsync(commit, updated.Id, writeId, stored => stored is not null && IsRevision(stored, expected), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Pages of <see cref="FirestoreJobStoreOptions.PageSize"/> with a cursor on the document
    /// name, every page read at the first page's <c>readTime</c>, so the list is one consistent
    /// snapshot however long it is. Ordered by job id: ordering by submission time would need a
    /// composite index (state, submittedAt) deployed with the database.
    /// </remarks>
    public async Task<IReadOnlyList<Job>> ListActiveAsync(CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        string? after = null;
        string? readTime = null;
        while (true)
        {
            var (documents, answeredAt) = await RunQueryAsync(ActiveJobsQuery(after), readTime, cancellationToken);
            jobs.AddRange(documents.Select(ToJob));
            if (documents.Count < _options.PageSize)
            {
                return jobs;
            }

            after = documents[^1].Name;
            readTime ??= answeredAt;
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Job>> ListRecentAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0)
        {
            return [];
        }

        var query = new JsonObject
        {
            ["from"] = new JsonArray(new JsonObject { ["collectionId"] = JobsCollection }),
            ["orderBy"] = new JsonArray(Order(SubmittedAtField, "DESCENDING")),
            ["limit"] = limit,
        };
        var (documents, _) = await RunQueryAsync(query, null, cancellationToken);
        return [.. documents.Select(ToJob)];
    }

    /// <inheritdoc />
    /// <remarks>
    /// Lists <c>jobs/{jobId}/events</c> page by page. A listing is in document name order unless
    /// told otherwise (an explicit <c>orderBy=__name__</c> makes the emulator fail on the second
    /// page), and the zero-padded ids make name order history order.
    /// </remarks>
    public async Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken)
    {
        var uri = $"{_documentsUri}/{JobsCollection}/{Uri.EscapeDataString(DocumentId(jobId))}/{EventsCollection}?pageSize={_options.PageSize}";
        var history = new List<HistoryEntry>();
        string? pageToken = null;
        do
        {
            var pageUri = pageToken is null ? uri : $"{uri}&pageToken={Uri.EscapeDataString(pageToken)}";
            var page = await _transport.SendJsonAsync<FirestoreDocumentPage>(HttpMethod.Get, new Uri(pageUri), null, idempotent: true, cancellationToken);
            history.AddRange((page.Documents ?? []).Select(d => FirestoreValues.FromFields<HistoryEntry>(d.Fields ?? [])));
            pageToken = string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken;
        }
        while (pageToken is not null);

        return history;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A structured query on <c>outbox</c> ordered by document name, which is job id then sequence: one
    /// job's events come in history order, the jobs in id order. The filter on <c>jobId</c> with that
    /// order is meant to be served by the automatic single-field index (unconfirmed against a real
    /// database; the emulator does not check indexes).
    /// </remarks>
    public async Task<IReadOnlyList<JobEvent>> ListOutboxAsync(string? jobId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0)
        {
            return [];
        }

        var query = new JsonObject
        {
            ["from"] = new JsonArray(new JsonObject { ["collectionId"] = OutboxCollection }),
            ["orderBy"] = new JsonArray(Order("__name__", "ASCENDING")),
            ["limit"] = limit,
        };
        if (jobId is not null)
        {
            query["where"] = new JsonObject
            {
                ["fieldFilter"] = new JsonObject
                {
                    ["field"] = new JsonObject { ["fieldPath"] = JsonName(nameof(JobEvent.JobId)) },
                    ["op"] = "EQUAL",
                    ["value"] = FirestoreValues.String(jobId),
                },
            };
        }

        var (documents, _) = await RunQueryAsync(query, null, cancellationToken);
        return [.. documents.Select(d => FirestoreValues.FromFields<JobEvent>(d.Fields ?? []))];
    }

    /// <inheritdoc />
    public async Task RemoveFromOutboxAsync(string eventId, CancellationToken cancellationToken)
    {
        var (jobId, sequence) = ParseEventId(eventId);
        var uri = new Uri($"{_documentsUri}/{OutboxCollection}/{Uri.EscapeDataString($"{DocumentId(jobId)}~{sequence.ToString(CultureInfo.InvariantCulture).PadLeft(SequenceDigits, '0')}")}");
        // A delete without a precondition succeeds whether or not the document exists, so it is idempotent.
        await _transport.SendAsync(HttpMethod.Delete, uri, null, idempotent: true, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Creates the record with the precondition <c>exists: false</c>; when it exists, a record with an
    /// outcome is <see cref="DeliveryClaim.Completed"/>, one whose claim ran out is taken over with an
    /// <c>updateTime</c> precondition, so of two senders taking it over at once only one wins.
    /// </remarks>
    public async Task<DeliveryClaim> TryClaimDeliveryAsync(string key, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        JsonObject Fields() => new()
        {
            [ClaimedUntilField] = FirestoreValues.String(FirestoreValues.FormatTimestamp(until)),
            [ExpireAtField] = ExpireAt(now),
        };
        if (await TryCommitDeliveryAsync(key, Fields(), new JsonObject { ["exists"] = false }, cancellationToken))
        {
            return DeliveryClaim.Claimed;
        }

        var stored = await GetDeliveryAsync(key, cancellationToken);
        if (stored is null)
        {
            // Released between the two calls: the next delivery claims it.
            return DeliveryClaim.Busy;
        }

        if (stored.Fields?[OutcomeField] is not null)
        {
            return DeliveryClaim.Completed;
        }

        var claimedUntil = stored.Fields?[ClaimedUntilField]?["stringValue"]?.GetValue<string>();
        if (FirestoreValues.TryParseTimestamp(claimedUntil, out var held) && held > now)
        {
            return DeliveryClaim.Busy;
        }

        return await TryCommitDeliveryAsync(key, Fields(), new JsonObject { ["updateTime"] = stored.UpdateTime }, cancellationToken)
            ? DeliveryClaim.Claimed
            : DeliveryClaim.Busy;
    }

    /// <inheritdoc />
    public async Task CompleteDeliveryAsync(string key, string outcome, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        await TryCommitDeliveryAsync(key, new JsonObject { [OutcomeField] = FirestoreValues.String(outcome), [ExpireAtField] = ExpireAt(now) }, null, cancellationToken);
    }

    private static JsonObject ExpireAt(DateTimeOffset now) =>
        new() { ["timestampValue"] = FirestoreValues.FormatTimestamp(now + IJobEventStore.DeliveryRetention) };

    /// <inheritdoc />
    public async Task ReleaseDeliveryAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await GetDeliveryAsync(key, cancellationToken);
        if (stored is null || stored.Fields?[OutcomeField] is not null)
        {
            return;
        }

        var delete = new JsonObject { ["delete"] = DeliveryName(key), ["currentDocument"] = new JsonObject { ["updateTime"] = stored.UpdateTime } };
        try
        {
            await _transport.SendAsync(HttpMethod.Post, new Uri($"{_documentsUri}:commit"), Commit(delete), idempotent: false, cancellationToken);
        }
        catch (GoogleApiException e) when (IsPreconditionFailure(e))
        {
            // Completed or claimed again meanwhile: not ours to release any more.
        }
    }

    private async Task<bool> TryCommitDeliveryAsync(string key, JsonObject fields, JsonObject? precondition, CancellationToken cancellationToken)
    {
        var write = new JsonObject { ["update"] = new JsonObject { ["name"] = DeliveryName(key), ["fields"] = fields } };
        if (precondition is not null)
        {
            write["currentDocument"] = precondition;
        }

        try
        {
            await _transport.SendAsync(HttpMethod.Post, new Uri($"{_documentsUri}:commit"), Commit(write), idempotent: false, cancellationToken);
            return true;
        }
        catch (GoogleApiException e) when (IsPreconditionFailure(e))
        {
            return false;
        }
    }

    private async Task<FirestoreDocument?> GetDeliveryAsync(string key, CancellationToken cancellationToken)
    {
        var uri = new Uri($"{_documentsUri}/{DeliveriesCollection}/{Uri.EscapeDataString(DeliveryId(key))}");
        try
        {
            return await _transport.SendJsonAsync<FirestoreDocument>(HttpMethod.Get, uri, null, idempotent: true, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return null;
        }
    }

    private string DeliveryName(string key) => $"{_documentsName}/{DeliveriesCollection}/{DeliveryId(key)}";

    /// <summary>A delivery key (an event id, <c>jobId/n</c>) as a document id.</summary>
    private static string DeliveryId(string key) => DocumentId(key.Replace('/', '~'));

    private static (string JobId, long Sequence) ParseEventId(string eventId)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        var slash = eventId.LastIndexOf('/');
        return slash > 0 && long.TryParse(eventId.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            ? (eventId[..slash], sequence)
            : throw new ArgumentException($"'{eventId}' is not a job event id (jobId/n)", nameof(eventId));
    }

    /// <summary>The <c>:commit</c> body that creates a job with its first history entry.</summary>
    internal JsonObject CreateCommit(Job job, HistoryEntry entry, string writeId) =>
        Commit(
            JobWrite(job, writeId, historyLength: 1, new JsonObject { ["exists"] = false }),
            EventWrite(job.Id, 1, entry),
            OutboxWrite(job, 1, entry));

    /// <summary>The <c>:commit</c> body that replaces the job at revision <paramref name="updateTime"/> and appends <paramref name="entry"/>.</summary>
    internal JsonObject UpdateCommit(Job updated, string updateTime, long historyLength, HistoryEntry? entry, string writeId)
    {
        var precondition = new JsonObject { ["updateTime"] = updateTime };
        return entry is null
            ? Commit(JobWrite(updated, writeId, historyLength, precondition))
            : Commit(
                JobWrite(updated, writeId, historyLength + 1, precondition),
                EventWrite(updated.Id, historyLength + 1, entry),
                OutboxWrite(updated, historyLength + 1, entry));
    }

    /// <summary>The structured query for one page of active jobs, after the document named <paramref name="after"/>.</summary>
    internal JsonObject ActiveJobsQuery(string? after)
    {
        var query = new JsonObject
        {
            ["from"] = new JsonArray(new JsonObject { ["collectionId"] = JobsCollection }),
            ["where"] = new JsonObject
            {
                ["fieldFilter"] = new JsonObject
                {
                    ["field"] = new JsonObject { ["fieldPath"] = StateField },
                    ["op"] = "IN",
                    ["value"] = ActiveStates.DeepClone(),
                },
            },
            ["orderBy"] = new JsonArray(Order("__name__", "ASCENDING")),
            ["limit"] = _options.PageSize,
        };
        if (after is not null)
        {
            query["startAt"] = new JsonObject { ["values"] = new JsonArray(FirestoreValues.Reference(after)), ["before"] = false };
        }

        return query;
    }

    /// <summary>The documents of a <c>:runQuery</c> answer and its <c>readTime</c>; a lone <c>readTime</c> element means none.</summary>
    internal static (IReadOnlyList<FirestoreDocument> Documents, string? ReadTime) ParseRunQuery(string json)
    {
        var elements = JsonSerializer.Deserialize<List<RunQueryResponse>>(json, GoogleJson.Options)
            ?? throw new InvalidDataException("runQuery answered null");
        return ([.. elements.Select(e => e.Document).OfType<FirestoreDocument>()], elements.Select(e => e.ReadTime).FirstOrDefault(t => t is not null));
    }

    /// <summary>Whether a failed commit lost to a precondition (false to the caller) rather than failing.</summary>
    internal static bool IsPreconditionFailure(GoogleApiException error) => error.Status is "FAILED_PRECONDITION" or "ALREADY_EXISTS";

    private async Task<bool> CommitAsync(
        JsonObject commit, string jobId, string writeId, Func<FirestoreDocument?, bool> preconditionHolds, CancellationToken cancellationToken)
    {
        var uri = new Uri($"{_documentsUri}:commit");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _transport.SendAsync(HttpMethod.Post, uri, commit, idempotent: false, cancellationToken);
                return true;
            }
            catch (GoogleApiException e) when (IsPreconditionFailure(e))
            {
                // The first copy can only have lost to another writer; a later one may have lost
                // to an earlier copy of itself that was applied after all.
                return attempt > 1 && WrittenBy(await GetDocumentAsync(jobId, cancellationToken), writeId);
            }
            catch (GoogleApiException e) when (e.IsTransient && attempt < _options.MaxCommitAttempts)
            {
                await Task.Delay(Backoff(attempt), _time, cancellationToken);
                var stored = await GetDocumentAsync(jobId, cancellationToken);
                if (WrittenBy(stored, writeId))
                {
                    return true;
                }

                if (!preconditionHolds(stored))
                {
                    return false;
                }
            }
        }
    }

    private async Task<FirestoreDocument?> GetDocumentAsync(string jobId, CancellationToken cancellationToken)
    {
        var uri = new Uri($"{_documentsUri}/{JobsCollection}/{Uri.EscapeDataString(DocumentId(jobId))}");
        try
        {
            return await _transport.SendJsonAsync<FirestoreDocument>(HttpMethod.Get, uri, null, idempotent: true, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return null;
        }
    }

    private async Task<(IReadOnlyList<FirestoreDocument> Documents, string? ReadTime)> RunQueryAsync(
        JsonObject query, string? readTime, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["structuredQuery"] = query };
        if (readTime is not null)
        {
            body["readTime"] = readTime;
        }

        var json = await _transport.SendAsync(HttpMethod.Post, new Uri($"{_documentsUri}:runQuery"), body, idempotent: true, cancellationToken);
        try
        {
            return ParseRunQuery(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"runQuery answered something other than an array of results: {e.Message}", e);
        }
    }

    private JsonObject JobWrite(Job job, string writeId, long historyLength, JsonObject precondition)
    {
        var fields = FirestoreValues.ToFields(job);
        // The revision is the document's updateTime, never a stored field.
        fields.Remove(RevisionField);
        fields[HistoryLengthField] = FirestoreValues.Integer(historyLength);
        fields[WriteIdField] = FirestoreValues.String(writeId);
        return new JsonObject
        {
            ["update"] = new JsonObject { ["name"] = JobName(job.Id), ["fields"] = fields },
            ["currentDocument"] = precondition,
        };
    }

    private JsonObject EventWrite(string jobId, long sequence, HistoryEntry entry) => new()
    {
        ["update"] = new JsonObject
        {
            ["name"] = $"{JobName(jobId)}/{EventsCollection}/{sequence.ToString(CultureInfo.InvariantCulture).PadLeft(SequenceDigits, '0')}",
            ["fields"] = FirestoreValues.ToFields(entry),
        },
    };

    private JsonObject OutboxWrite(Job job, long sequence, HistoryEntry entry) => new()
    {
        ["update"] = new JsonObject
        {
            ["name"] = $"{_documentsName}/{OutboxCollection}/{DocumentId(job.Id)}~{sequence.ToString(CultureInfo.InvariantCulture).PadLeft(SequenceDigits, '0')}",
            ["fields"] = FirestoreValues.ToFields(JobEvent.Of(job, sequence, entry)),
        },
    };

    private string JobName(string jobId) => $"{_documentsName}/{JobsCollection}/{DocumentId(jobId)}";

    private TimeSpan Backoff(int attempt) =>
        _options.RetryDelay * Math.Pow(2, attempt - 1) * (0.5 + Random.Shared.NextDouble());

    private static JsonObject Commit(params JsonObject[] writes) => new() { ["writes"] = new JsonArray(writes) };

    private static JsonObject Order(string fieldPath, string direction) =>
        new() { ["field"] = new JsonObject { ["fieldPath"] = fieldPath }, ["direction"] = direction };

    private static Job ToJob(FirestoreDocument document) =>
        FirestoreValues.FromFields<Job>(document.Fields ?? []) with
        {
            Revision = document.UpdateTime ?? throw new InvalidDataException($"{document.Name} came without an updateTime"),
        };

    private static bool IsRevision(FirestoreDocument document, DateTimeOffset expected) =>
        FirestoreValues.TryParseTimestamp(document.UpdateTime, out var updateTime) && updateTime == expected;

    private static bool WrittenBy(FirestoreDocument? document, string writeId) =>
        document?.Fields?[WriteIdField]?["stringValue"]?.GetValue<string>() == writeId;

    private static string NewWriteId() => Guid.NewGuid().ToString("N");

    private static string JsonName(string propertyName) => SpotJaxJson.Options.PropertyNamingPolicy!.ConvertName(propertyName);

    /// <summary>A job id as a document id: Firestore forbids <c>/</c>, <c>.</c>, <c>..</c> and <c>__name__</c> forms.</summary>
    private static string DocumentId(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        if (jobId.Contains('/', StringComparison.Ordinal) || jobId is "." or ".." || (jobId.StartsWith("__", StringComparison.Ordinal) && jobId.EndsWith("__", StringComparison.Ordinal)))
        {
            throw new ArgumentException($"'{jobId}' cannot be a Firestore document id", nameof(jobId));
        }

        return jobId;
    }

    private static string Segment(string value, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, parameter);
        return value.Contains('/', StringComparison.Ordinal) ? throw new ArgumentException($"'{value}' contains '/'", parameter) : value;
    }
}
