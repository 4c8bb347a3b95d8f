using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>The simulated Cloud TPU control plane: queued resources, their nodes and operations, in memory.</summary>
internal sealed partial class SimulatorState(TpuSimulatorOptions options, TimeProvider time) : IDisposable
{
    private const int DefaultPageSize = 100;
    private static readonly TimeSpan MaxDeleteGrace = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a request id is remembered: the TPU API documents none; 60 minutes is the "at least 60 minutes"
    /// other Google APIs' request_id fields promise.
    /// </summary>
    private static readonly TimeSpan RequestIdWindow = TimeSpan.FromMinutes(60);

    /// <summary>How often the folders of deleted nodes are searched for groups registered after the delete.</summary>
    private static readonly TimeSpan DeletedNodeSweep = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, QueuedResourceEntry> _queuedResources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (QueuedResourceEntry Entry, bool IsDelete)> _operations = new(StringComparer.Ordinal);

    // Request ids as AIP-155 and the TPU API's "Idempotent request UUID" promise (docs/gcp-contracts.md, Request ids):
    // "<method> <resource name> <request id>" -> the operation the first such request started, and when.
    private readonly Dictionary<string, (string Operation, DateTimeOffset At)> _requests = new(StringComparer.Ordinal);

    // Queued resources whose next delete fails in its operation, and the failed delete operations by name.
    private readonly HashSet<string> _failingDeletes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QueuedResourceEntry> _failedDeletes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeDirectories = new(StringComparer.Ordinal);
    private readonly List<ITimer> _timers = [];

    // A launch racing the delete may start an agent on a node that is already gone: it must not run on.
    private readonly HashSet<string> _deletedNodeDirectories = new(StringComparer.Ordinal);
    private ITimer? _deletedNodeSweeper;
    private long _operationCount;
    private bool _disposed;

    // Fault injection: zones in a stock-out now, and creates refused inside their operation that left no queued resource.
    private readonly HashSet<string> _zonesWithoutCapacity = new(options.ZonesWithoutCapacity, StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _refusedCreates = new(StringComparer.Ordinal);

    /// <summary>The faults in force (<see cref="TpuFaults"/>), changeable at runtime.</summary>
    public SimulatorFaults Faults { get; } = new(options.Faults);

    /// <summary>The TPU API calls received, by method.</summary>
    public SimulatorCalls Calls { get; } = new();

    /// <summary>The rate quota on creates (<see cref="TpuFaults.CreatesPerMinute"/>).</summary>
    public CreateRateQuota CreateRate { get; } = new();

    /// <summary>Every queued resource created, deleted and preempted (<see cref="SimulatorLedger"/>).</summary>
    public SimulatorLedger Ledger { get; } = new(options.OnLedgerEntry);

    public TimeProvider Time => time;

    public string NodeDirectory(string zone, string nodeId)
    {
        RequireZone(zone);
        RequireId(nodeId, "nodeId");
        return Path.Combine(options.NodesRoot, zone, nodeId);
    }

    public JsonObject Create(string project, string zone, string? queuedResourceId, string? requestId, QueuedResource body)
    {
        RequireZone(zone);
        var id = RequireId(queuedResourceId, "queuedResourceId");
        var parent = $"projects/{project}/locations/{zone}";
        if (body.Tpu?.NodeSpec is not [{ Node: not null } spec])
        {
            throw SimulatorApiException.InvalidArgument("tpu.nodeSpec must hold exactly one node spec with a node.");
        }

        if (spec.Parent != parent)
        {
            throw SimulatorApiException.InvalidArgument($"tpu.nodeSpec[0].parent must be '{parent}', not '{spec.Parent}'.");
        }

        var nodeIds = NodeIds(spec, id);
        NetworkConfigRules.Validate(spec.Node.NetworkConfig, zone);
        var workers = AcceleratorTopology.Workers(spec.Node.AcceleratorType)
            ?? throw SimulatorApiException.InvalidArgument($"tpu.nodeSpec[0].node.acceleratorType '{spec.Node.AcceleratorType}' is not a TPU v2 accelerator type.");
        if (string.IsNullOrEmpty(spec.Node.RuntimeVersion))
        {
            throw SimulatorApiException.InvalidArgument("tpu.nodeSpec[0].node.runtimeVersion is required.");
        }

        var validFor = ParseDuration(body.QueueingPolicy?.ValidUntilDuration);
        var endpoint = options.Endpoint ?? ((_, _) => ("127.0.0.1", 8470));
        var nodes = nodeIds.Select(nodeId => new SimulatedNode
        {
            NodeId = nodeId,
            Endpoints = Enumerable.Range(0, workers)
                .Select(worker => endpoint(nodeId, worker))
                .Select(e => new NetworkEndpoint { IpAddress = e.Ip, Port = e.Port })
                .ToArray(),
            Directory = Path.Combine(options.NodesRoot, zone, nodeId),
        }).ToArray();

        lock (_gate)
        {
            var now = Prune();
            CreateRate.Admit(Faults.Current, project, now);
            var name = $"{parent}/queuedResources/{id}";
            if (SeenRequest("create", name, requestId, now) is { } original)
            {
                // A retried create gets the original operation, however it ended, and creates nothing.
                return OperationToJson(original, now);
            }

            if (_queuedResources.TryGetValue(name, out var existing))
            {
                throw SimulatorApiException.AlreadyExists(existing.Name);
            }

            foreach (var holder in _queuedResources.Values.Where(e => e.Zone == zone))
            {
                if (holder.Nodes.FirstOrDefault(n => nodeIds.Contains(n.NodeId)) is { } taken)
                {
                    throw SimulatorApiException.AlreadyExists(holder.NodeName(taken));
                }
            }

            RefuseCreate(project, zone, parent, spec.Node.AcceleratorType!);

            var injected = Faults.Current;
            RpcStatus? operationError = Faults.DrawOperationError()
                ? new RpcStatus { Code = injected.OperationErrorCode, Message = injected.OperationErrorMessage }
                : null;
            if (operationError is not null && !injected.OperationErrorLeavesFailedQueuedResource)
            {
                return RefusedCreate(parent, id, requestId, operationError, now);
            }

            var provisionDelay = options.ProvisionDelayOf?.Invoke(body) ?? options.ProvisionDelay;
            DateTimeOffset? activeAt = operationError is not null || _zonesWithoutCapacity.Contains(zone) ? null : now + provisionDelay;
            DateTimeOffset? validUntil = validFor is { } v ? now + v : null;
            var entry = new QueuedResourceEntry
            {
                Project = project,
                Zone = zone,
                Id = id,
                Request = body with { Name = null, CreateTime = null, State = null },
                CreateTime = now,
                ProvisionDelay = provisionDelay,
                ActiveAt = activeAt,
                FailAt = operationError is not null ? now
                    : validUntil is { } until && (activeAt is null || until < activeAt) ? until : null,
                ValidUntil = validUntil,
                FailureError = operationError,
                Nodes = nodes,
                CreateOperation = NextOperationName(parent),
            };
            foreach (var node in nodes)
            {
                for (var worker = 0; worker < workers; worker++)
                {
                    Directory.CreateDirectory(Path.Combine(node.Directory, $"worker-{worker}"));
                }

                _nodeDirectories.Add(node.Directory);
                _deletedNodeDirectories.Remove(node.Directory);
            }

            _queuedResources.Add(entry.Name, entry);
            _operations.Add(entry.CreateOperation, (entry, false));
            RememberRequest("create", name, requestId, entry.CreateOperation, now);
            Ledger.Record(new LedgerEntry(now, LedgerEvent.Created, project, zone, id, requestId));
            return entry.CreateOperationToJson(now);
        }
    }

    public JsonObject Get(string project, string zone, string queuedResourceId)
    {
        lock (_gate)
        {
            var now = Prune();
            return Find(project, zone, queuedResourceId).ToJson(now);
        }
    }

    public JsonObject List(string project, string zone, string? pageSize, string? pageToken)
    {
        lock (_gate)
        {
            var now = Prune();
            var parent = $"projects/{project}/locations/{zone}";
            var all = _queuedResources.Values.Where(e => e.Parent == parent).Select(e => (e.Name, e));
            var (page, next) = Page(all, pageSize, pageToken);
            return PageJson("queuedResources", page.Select(e => e.ToJson(now)), next);
        }
    }

    public JsonObject Delete(string project, string zone, string queuedResourceId, bool force, string? requestId)
    {
        IReadOnlyList<SimulatedNode> nodes;
        JsonObject operation;
        lock (_gate)
        {
            var now = Prune();
            var name = $"projects/{project}/locations/{zone}/queuedResources/{queuedResourceId}";
            if (SeenRequest("delete", name, requestId, now) is { } original)
            {
                // The same request again: its original operation, even one that failed, and nothing is done again.
                return OperationToJson(original, now);
            }

            var entry = Find(project, zone, queuedResourceId);
            if (entry.DeleteOperation is not null)
            {
                // Already going away: a delete with another request id gets the same operation.
                RememberRequest("delete", name, requestId, entry.DeleteOperation, now);
                return entry.DeleteOperationToJson(now);
            }

            var state = entry.StateAt(now);
            if (!force && entry.NodeExistsAt(now) && state is not ("ACCEPTED" or "FAILED" or "SUSPENDED"))
            {
                throw SimulatorApiException.FailedPrecondition(
                    $"Queued resource {entry.Name} is {state} and its node exists; delete it with force=true.");
            }

            if (_failingDeletes.Remove(name))
            {
                var failed = NextOperationName(entry.Parent);
                _failedDeletes.Add(failed, entry);
                RememberRequest("delete", name, requestId, failed, now);
                return entry.FailedDeleteOperationToJson(failed);
            }

            entry.DeleteRequestedAt = now;
            entry.RemoveAt = now + options.DeleteDelay;
            entry.DeleteOperation = NextOperationName(entry.Parent);
            _operations.Add(entry.DeleteOperation, (entry, true));
            RememberRequest("delete", name, requestId, entry.DeleteOperation, now);
            nodes = entry.Nodes;
            operation = entry.DeleteOperationToJson(now);
            Ledger.Record(new LedgerEntry(now, LedgerEvent.DeleteAccepted, project, zone, queuedResourceId, requestId));
        }

        foreach (var node in nodes)
        {
            ProcessGroups.Terminate(node.Directory);
            ScheduleKill(node.Directory, options.PreemptionGrace < MaxDeleteGrace ? options.PreemptionGrace : MaxDeleteGrace, nodeDeleted: true);
        }

        return operation;
    }

    public JsonObject GetNode(string project, string zone, string nodeId)
    {
        lock (_gate)
        {
            var now = Prune();
            var name = $"projects/{project}/locations/{zone}/nodes/{nodeId}";
            return _queuedResources.Values
                .Where(e => e.Parent == $"projects/{project}/locations/{zone}" && e.NodeExistsAt(now))
                .SelectMany(e => e.Nodes.Where(n => n.NodeId == nodeId).Select(n => e.NodeToJson(n, now)))
                .FirstOrDefault() ?? throw SimulatorApiException.NotFound(name);
        }
    }

    public JsonObject ListNodes(string project, string zone, string? pageSize, string? pageToken)
    {
        lock (_gate)
        {
            var now = Prune();
            var parent = $"projects/{project}/locations/{zone}";
            var all = _queuedResources.Values.Where(e => e.Parent == parent && e.NodeExistsAt(now))
                .SelectMany(e => e.Nodes.Select(n => (e.NodeName(n), (Entry: e, Node: n))));
            var (page, next) = Page(all, pageSize, pageToken);
            return PageJson("nodes", page.Select(p => p.Entry.NodeToJson(p.Node, now)), next);
        }
    }

    public JsonObject GetOperation(string project, string zone, string operationId)
    {
        lock (_gate)
        {
            var now = Prune();
            return OperationToJson($"projects/{project}/locations/{zone}/operations/{operationId}", now);
        }
    }

    /// <summary>
    /// Makes the next delete of a queued resource (<paramref name="project"/> null: in any project) fail in its
    /// operation: the operation is done at once with an INTERNAL error and the queued resource stays as it was.
    /// </summary>
    public void FailNextDelete(string? project, string zone, string queuedResourceId)
    {
        lock (_gate)
        {
            Prune();
            var entry = project is not null
                ? Find(project, zone, queuedResourceId)
                : _queuedResources.Values.FirstOrDefault(e => e.Zone == zone && e.Id == queuedResourceId)
                    ?? throw SimulatorApiException.NotFound($"locations/{zone}/queuedResources/{queuedResourceId}");
            _failingDeletes.Add(entry.Name);
        }
    }

    /// <summary>
    /// Starts (<paramref name="hasCapacity"/> false) or ends a stock-out in <paramref name="zone"/>: creates there wait in
    /// WAITING_FOR_RESOURCES while it lasts; when it ends, the queued resources waiting there provision.
    /// </summary>
    public void SetCapacity(string zone, bool hasCapacity)
    {
        RequireZone(zone);
        lock (_gate)
        {
            var now = Prune();
            if (!hasCapacity)
            {
                _zonesWithoutCapacity.Add(zone);
                return;
            }

            _zonesWithoutCapacity.Remove(zone);
            foreach (var entry in _queuedResources.Values.Where(e => e.Zone == zone))
            {
                entry.CapacityReturned(now);
            }
        }
    }

    /// <summary>
    /// Throws the create error the injected faults ask for, or the quota error of a create beyond the zone's quota.
    /// (The repeat of a create refused inside its operation has already had its original operation, google.aip.dev/155.)
    /// Caller holds the gate.
    /// </summary>
    private void RefuseCreate(string project, string zone, string parent, string acceleratorType)
    {
        if (Faults.Current.CreateError is { } error)
        {
            throw SimulatorFaults.Refused(error);
        }

        if (Faults.Current.QueuedResourceQuota.TryGetValue(zone, out var quota) &&
            _queuedResources.Values.Count(e => e.Parent == parent && e.DeleteRequestedAt is null) >= quota)
        {
            throw SimulatorFaults.QuotaExceeded(project, zone, acceleratorType, quota);
        }
    }

    /// <summary>A create accepted and then refused inside its operation, leaving no queued resource. Caller holds the gate.</summary>
    private JsonObject RefusedCreate(string parent, string id, string? requestId, RpcStatus error, DateTimeOffset now)
    {
        var name = NextOperationName(parent);
        var resource = $"{parent}/queuedResources/{id}";
        _refusedCreates[name] = QueuedResourceEntry.RefusedCreateOperationToJson(name, resource, error);
        RememberRequest("create", resource, requestId, name, now);
        return _refusedCreates[name].DeepClone().AsObject();
    }

    /// <summary>
    /// A Spot preemption of an ACTIVE queued resource (<paramref name="project"/> null: any project): of every node,
    /// or of the node of slice <paramref name="slice"/> only. What a preemption of one node of several does to the
    /// others and to the queued resource is not documented (unconfirmed): here that node alone is PREEMPTED and
    /// signalled, and the queued resource goes SUSPENDING then SUSPENDED as with one node.
    /// </summary>
    public void Preempt(string? project, string zone, string queuedResourceId, int? slice = null)
    {
        SimulatedNode[] preempted;
        lock (_gate)
        {
            var now = Prune();
            var entry = FindActive(project, zone, queuedResourceId, now);
            if (slice is { } s && (s < 0 || s >= entry.Nodes.Count))
            {
                throw SimulatorApiException.InvalidArgument(
                    string.Create(CultureInfo.InvariantCulture, $"slice {s} is not a slice of {entry.Name}, which has {entry.Nodes.Count} node(s)."));
            }

            preempted = slice is { } one ? [entry.Nodes[one]] : [.. entry.Nodes];
            entry.PreemptedAt = now;
            entry.SuspendedAt = now + options.PreemptionGrace;
            foreach (var node in preempted)
            {
                node.PreemptedAt = now;
            }

            Ledger.Record(new LedgerEntry(now, LedgerEvent.Preempted, entry.Project, zone, entry.Id, null));
        }

        foreach (var node in preempted)
        {
            // The metadata flips before the signal so that a workload reacting to SIGTERM already reads TRUE.
            node.Metadata.MarkPreempted();
            ProcessGroups.Terminate(node.Directory);
            ScheduleKill(node.Directory, options.PreemptionGrace);
        }
    }

    /// <summary>Announces host maintenance on the node of an ACTIVE queued resource.</summary>
    public void InjectMaintenance(string? project, string zone, string queuedResourceId)
    {
        QueuedResourceEntry entry;
        lock (_gate)
        {
            entry = FindActive(project, zone, queuedResourceId, Prune());
        }

        foreach (var node in entry.Nodes)
        {
            node.Metadata.MarkMaintenance("TERMINATE_ON_HOST_MAINTENANCE");
        }
    }

    /// <summary>The metadata of a node that still exists in any project, or null.</summary>
    public NodeMetadata? FindMetadata(string zone, string nodeId)
    {
        lock (_gate)
        {
            var now = Prune();
            return _queuedResources.Values
                .Where(e => e.Zone == zone && e.NodeExistsAt(now))
                .SelectMany(e => e.Nodes)
                .FirstOrDefault(n => n.NodeId == nodeId)?.Metadata;
        }
    }

    /// <summary>Whether <paramref name="token"/> is the access token of a node that still exists.</summary>
    public bool IsNodeToken(string token)
    {
        lock (_gate)
        {
            var now = Prune();
            return _queuedResources.Values.Any(e => e.NodeExistsAt(now) && e.Nodes.Any(n => n.Metadata.AccessToken == token));
        }
    }

    /// <summary>The Secret Manager stand-in's secrets.</summary>
    public SimulatedSecrets Secrets { get; } = new();

    public SimulatedOsLogin OsLogin { get; } = new(time);

    /// <summary>Stops the pending signal timers and SIGKILLs every group of every node ever created.</summary>
    public void Dispose()
    {
        string[] directories;
        lock (_gate)
        {
            _disposed = true;
            foreach (var timer in _timers)
            {
                timer.Dispose();
            }

            _timers.Clear();
            _deletedNodeSweeper?.Dispose();
            directories = [.. _nodeDirectories];
        }

        foreach (var directory in directories)
        {
            ProcessGroups.Kill(directory);
        }
    }

    /// <summary>
    /// SIGKILLs every group registered in a deleted node's folder after the delete's own signals:
    /// the registration of a process on a node that no longer exists is refused.
    /// </summary>
    private void KillLateRegistrations()
    {
        string[] directories;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            directories = [.. _deletedNodeDirectories];
        }

        foreach (var directory in directories)
        {
            ProcessGroups.Kill(directory);
        }
    }

    /// <summary>From now on every group that registers in the deleted node's folder is killed (the delete's grace is over).</summary>
    private void RefuseRegistrations(string directory)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _deletedNodeDirectories.Add(directory);
            _deletedNodeSweeper ??= time.CreateTimer(_ => KillLateRegistrations(), null, DeletedNodeSweep, DeletedNodeSweep);
        }
    }

    private void ScheduleKill(string directory, TimeSpan grace, bool nodeDeleted = false)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            ITimer? timer = null;
            timer = time.CreateTimer(
                _ =>
                {
                    ProcessGroups.Kill(directory);
                    if (nodeDeleted)
                    {
                        RefuseRegistrations(directory);
                    }

                    lock (_gate)
                    {
                        // Null when a zero grace fired inside CreateTimer; Dispose then takes it.
                        if (timer is not null && _timers.Remove(timer))
                        {
                            timer.Dispose();
                        }
                    }
                },
                null,
                grace,
                Timeout.InfiniteTimeSpan);
            _timers.Add(timer);
        }
    }

    /// <summary>Drops queued resources whose delete has completed; returns the current time. Caller holds the gate.</summary>
    private DateTimeOffset Prune()
    {
        var now = time.GetUtcNow();
        foreach (var gone in _queuedResources.Values.Where(e => e.RemoveAt <= now).ToArray())
        {
            _queuedResources.Remove(gone.Name);
        }

        return now;
    }

    private QueuedResourceEntry Find(string project, string zone, string queuedResourceId)
    {
        var name = $"projects/{project}/locations/{zone}/queuedResources/{queuedResourceId}";
        return _queuedResources.TryGetValue(name, out var entry) ? entry : throw SimulatorApiException.NotFound(name);
    }

    private QueuedResourceEntry FindActive(string? project, string zone, string queuedResourceId, DateTimeOffset now)
    {
        var entry = project is not null
            ? Find(project, zone, queuedResourceId)
            : _queuedResources.Values.FirstOrDefault(e => e.Zone == zone && e.Id == queuedResourceId)
                ?? throw SimulatorApiException.NotFound($"locations/{zone}/queuedResources/{queuedResourceId}");
        var state = entry.StateAt(now);
        return state == "ACTIVE" ? entry : throw SimulatorApiException.FailedPrecondition($"Queued resource {entry.Name} is {state}, not ACTIVE.");
    }

    /// <summary>An operation by name as it is now. Caller holds the gate.</summary>
    private JsonObject OperationToJson(string name, DateTimeOffset now)
    {
        if (_refusedCreates.TryGetValue(name, out var refused))
        {
            return refused.DeepClone().AsObject();
        }

        if (_failedDeletes.TryGetValue(name, out var failed))
        {
            return failed.FailedDeleteOperationToJson(name);
        }

        return _operations.TryGetValue(name, out var operation)
            ? operation.IsDelete ? operation.Entry.DeleteOperationToJson(now) : operation.Entry.CreateOperationToJson(now)
            : throw SimulatorApiException.NotFound(name);
    }

    /// <summary>The operation an earlier request with this request id started within the window, or null. Caller holds the gate.</summary>
    private string? SeenRequest(string method, string resource, string? requestId, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(requestId))
        {
            return null;
        }

        foreach (var expired in _requests.Where(r => now - r.Value.At >= RequestIdWindow).Select(r => r.Key).ToArray())
        {
            _requests.Remove(expired);
        }

        return _requests.TryGetValue($"{method} {resource} {requestId}", out var seen) ? seen.Operation : null;
    }

    private void RememberRequest(string method, string resource, string? requestId, string operation, DateTimeOffset now)
    {
        if (!string.IsNullOrEmpty(requestId))
        {
            _requests.TryAdd($"{method} {resource} {requestId}", (operation, now));
        }
    }

    private string NextOperationName(string parent) => $"{parent}/operations/operation-{++_operationCount}";

    private static (List<T> Page, string? NextToken) Page<T>(IEnumerable<(string Name, T Item)> items, string? pageSize, string? pageToken)
    {
        var size = DefaultPageSize;
        if (!string.IsNullOrEmpty(pageSize))
        {
            if (!int.TryParse(pageSize, NumberStyles.None, CultureInfo.InvariantCulture, out var requested))
            {
                throw SimulatorApiException.InvalidArgument($"pageSize '{pageSize}' is not a non-negative number.");
            }

            // 0 asks for the server's default, as in the API.
            size = requested > 0 ? requested : DefaultPageSize;
        }

        // The token is the last name already returned, so paging stays correct while resources come and go.
        var after = string.IsNullOrEmpty(pageToken) ? null : DecodeToken(pageToken);
        var remaining = items
            .Where(i => after is null || string.CompareOrdinal(i.Name, after) > 0)
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .ToList();
        var page = remaining.Take(size).ToList();
        var next = remaining.Count > size ? Base64Url.EncodeToString(Encoding.UTF8.GetBytes(page[^1].Name)) : null;
        return (page.ConvertAll(i => i.Item), next);
    }

    private static string DecodeToken(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            throw SimulatorApiException.InvalidArgument($"pageToken '{token}' is not valid.");
        }
    }

    private static JsonObject PageJson(string field, IEnumerable<JsonObject> items, string? nextToken)
    {
        var json = new JsonObject { [field] = new JsonArray([.. items]) };
        if (nextToken is not null)
        {
            json["nextPageToken"] = nextToken;
        }

        return json;
    }

    private static TimeSpan? ParseDuration(string? duration)
    {
        if (duration is null)
        {
            return null;
        }

        return duration.EndsWith('s')
            && decimal.TryParse(duration.AsSpan(0, duration.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
            && seconds <= (decimal)TimeSpan.MaxValue.TotalSeconds / 2
            ? TimeSpan.FromSeconds((double)seconds)
            : throw SimulatorApiException.InvalidArgument($"queueingPolicy.validUntilDuration '{duration}' is not a duration such as '3600s'.");
    }

    private static void RequireZone(string zone)
    {
        if (!ZonePattern().IsMatch(zone))
        {
            throw SimulatorApiException.InvalidArgument($"'{zone}' is not a zone.");
        }
    }

    /// <summary>
    /// The node ids a node spec asks for: its <c>nodeId</c>, or with <c>multisliceParams</c> (and then no
    /// <c>nodeId</c>) <c>nodeIdPrefix-0</c> to <c>-(nodeCount-1)</c>, the prefix defaulting to the queued resource's id
    /// (https://cloud.google.com/tpu/docs/reference/rest/v2/projects.locations.queuedResources, NodeSpec).
    /// </summary>
    private static string[] NodeIds(NodeSpec spec, string queuedResourceId)
    {
        if (spec.MultisliceParams is not { } multislice)
        {
            return [RequireId(spec.NodeId, "tpu.nodeSpec[0].nodeId")];
        }

        if (spec.NodeId is not null)
        {
            throw SimulatorApiException.InvalidArgument("tpu.nodeSpec[0] must set either nodeId or multisliceParams, not both.");
        }

        if (multislice.NodeCount <= 1)
        {
            throw SimulatorApiException.InvalidArgument(
                string.Create(CultureInfo.InvariantCulture, $"tpu.nodeSpec[0].multisliceParams.nodeCount must be greater than 1, got {multislice.NodeCount}."));
        }

        var prefix = multislice.NodeIdPrefix is null
            ? queuedResourceId
            : RequireId(multislice.NodeIdPrefix, "tpu.nodeSpec[0].multisliceParams.nodeIdPrefix");
        return [.. Enumerable.Range(0, multislice.NodeCount)
            .Select(i => RequireId(string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}"), "tpu.nodeSpec[0].multisliceParams node id"))];
    }

    private static string RequireId(string? id, string field) =>
        id is not null && IdPattern().IsMatch(id) && id is not ("." or "..")
            ? id
            : throw SimulatorApiException.InvalidArgument($"{field} '{id}' must match ^[A-Za-z0-9_.~+%-]+$.");

    [GeneratedRegex("^[a-z0-9-]{1,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex ZonePattern();

    [GeneratedRegex("^[A-Za-z0-9_.~+%-]{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
