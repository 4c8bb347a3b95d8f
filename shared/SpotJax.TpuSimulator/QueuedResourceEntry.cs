using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>
/// One queued resource and its nodes (one, or one per slice with <c>multisliceParams</c>). The moments at which things happen are stored and the visible state is
/// computed from them on every read, so a fake clock drives every transition.
/// </summary>
internal sealed class QueuedResourceEntry
{
    public required string Project { get; init; }
    public required string Zone { get; init; }
    public required string Id { get; init; }

    /// <summary>The create body as submitted; every node is echoed from its single node spec.</summary>
    public required QueuedResource Request { get; init; }

    public required DateTimeOffset CreateTime { get; init; }
    public required TimeSpan ProvisionDelay { get; init; }

    /// <summary>When the queued resource becomes ACTIVE; null in a zone without capacity (until the zone gets some).</summary>
    public required DateTimeOffset? ActiveAt { get; set; }

    /// <summary>When the queued resource fails: it was still not ACTIVE at the end of <c>validUntilDuration</c>, or its create was refused.</summary>
    public required DateTimeOffset? FailAt { get; set; }

    /// <summary>The end of <c>queueingPolicy.validUntilDuration</c>, if the create set one.</summary>
    public DateTimeOffset? ValidUntil { get; init; }

    /// <summary>The error of a create refused inside its operation (injected); null: the failure is the passing of <see cref="ValidUntil"/>.</summary>
    public RpcStatus? FailureError { get; init; }

    /// <summary>Slice 0 first.</summary>
    public required IReadOnlyList<SimulatedNode> Nodes { get; init; }

    public required string CreateOperation { get; init; }

    /// <summary>When the first of its nodes was preempted: the queued resource is SUSPENDING from then on.</summary>
    public DateTimeOffset? PreemptedAt { get; set; }
    public DateTimeOffset? SuspendedAt { get; set; }
    public DateTimeOffset? DeleteRequestedAt { get; set; }
    public DateTimeOffset? RemoveAt { get; set; }
    public string? DeleteOperation { get; set; }

    public string Parent => $"projects/{Project}/locations/{Zone}";
    public string Name => $"{Parent}/queuedResources/{Id}";
    public string NodeName(SimulatedNode node) => $"{Parent}/nodes/{node.NodeId}";

    public string StateAt(DateTimeOffset now)
    {
        if (DeleteRequestedAt is not null)
        {
            return "DELETING";
        }

        if (PreemptedAt is not null)
        {
            return now >= SuspendedAt ? "SUSPENDED" : "SUSPENDING";
        }

        if (ActiveAt <= now)
        {
            return "ACTIVE";
        }

        if (FailAt <= now)
        {
            return "FAILED";
        }

        var elapsed = now - CreateTime;
        var third = ProvisionDelay / 3;
        return elapsed < third ? "CREATING"
            : elapsed < 2 * third ? "ACCEPTED"
            : ActiveAt is null ? "WAITING_FOR_RESOURCES"
            : "PROVISIONING";
    }

    /// <summary>Whether the node exists: it was provisioned, and before any delete was asked for.</summary>
    public bool NodeExistsAt(DateTimeOffset now) => ActiveAt <= now && (DeleteRequestedAt is null || ActiveAt <= DeleteRequestedAt);

    public JsonObject ToJson(DateTimeOffset now)
    {
        var state = StateAt(now);
        var resource = Request with
        {
            Name = Name,
            CreateTime = SimulatorJson.Timestamp(CreateTime),
            State = new QueuedResourceState
            {
                State = state,
                StateInitiator = state switch
                {
                    "SUSPENDING" or "SUSPENDED" => "SERVICE",
                    "DELETING" => "USER",
                    _ => null,
                },
                FailedData = state == "FAILED" ? new FailedData { Error = FailureError ?? DeadlineExceeded() } : null,
            },
        };
        var json = Serialize(resource);

        // Exactly one empty "<state>Data" member accompanies the state (failedData carries the error instead).
        if (state is not ("FAILED" or "WAITING_FOR_RESOURCES"))
        {
            json["state"]!.AsObject()[state.ToLowerInvariant() + "Data"] = new JsonObject();
        }

        return json;
    }

    /// <summary>
    /// A node as <c>nodes.get</c> shows it. Only a preempted node is PREEMPTED: what the API shows for the other
    /// nodes of a multislice queued resource after one was preempted is not documented (unconfirmed); SpotJax
    /// ends the attempt on any preempted node, so the simulator leaves the others READY, the strictest case.
    /// </summary>
    public JsonObject NodeToJson(SimulatedNode simulated, DateTimeOffset now)
    {
        var state = DeleteRequestedAt is not null ? "DELETING" : simulated.PreemptedAt is not null ? "PREEMPTED" : "READY";
        var node = Request.Tpu!.NodeSpec[0].Node with
        {
            Name = NodeName(simulated),
            State = state,
            Health = state == "READY" ? "HEALTHY" : null,
            // The API reports an external address per worker only when the node asked for one; the
            // simulator's workers have one address, used for both.
            NetworkEndpoints = Request.Tpu.NodeSpec[0].Node.NetworkConfig?.EnableExternalIps == true
                ? [.. simulated.Endpoints.Select(e => e with { AccessConfig = new AccessConfig { ExternalIp = e.IpAddress } })]
                : simulated.Endpoints,
        };
        var json = Serialize(node);
        json["createTime"] = SimulatorJson.Timestamp(ActiveAt!.Value);
        json["queuedResource"] = Name;
        json["apiVersion"] = "V2";
        return json;
    }

    /// <summary>The create operation: done once the queued resource is ACTIVE or FAILED, or was deleted before.</summary>
    public JsonObject CreateOperationToJson(DateTimeOffset now)
    {
        // A later preemption or delete does not change how the create ended.
        var settled = DeleteRequestedAt ?? now;
        (bool Done, RpcStatus? Error) result = ActiveAt <= settled ? (true, null)
            : FailAt <= settled ? (true, FailureError ?? DeadlineExceeded())
            : DeleteRequestedAt is not null ? (true, new RpcStatus { Code = 1, Message = $"Queued resource {Name} was deleted before it was provisioned." })
            : (false, null);
        var json = OperationToJson(CreateOperation, "create", result.Done, result.Error);
        if (result is (true, null))
        {
            var response = ToJson(now);
            response.Insert(0, "@type", "type.googleapis.com/google.cloud.tpu.v2.QueuedResource");
            json["response"] = response;
        }

        return json;
    }

    /// <summary>
    /// The zone has capacity again: a queued resource still waiting for it provisions now (the last third of its
    /// provisioning delay), unless its <c>validUntilDuration</c> ends first.
    /// </summary>
    public void CapacityReturned(DateTimeOffset now)
    {
        if (ActiveAt is not null || FailAt <= now || DeleteRequestedAt is not null)
        {
            return;
        }

        ActiveAt = now + ProvisionDelay / 3;
        FailAt = ValidUntil < ActiveAt ? ValidUntil : null;
    }

    /// <summary>The operation of a create refused inside its operation that left no queued resource: done, with the error.</summary>
    public static JsonObject RefusedCreateOperationToJson(string operation, string target, RpcStatus error)
    {
        var json = Serialize(new Operation { Name = operation, Done = true, Error = error });
        json["metadata"] = new JsonObject
        {
            ["@type"] = "type.googleapis.com/google.cloud.tpu.v2.OperationMetadata",
            ["target"] = target,
            ["verb"] = "create",
            ["apiVersion"] = "v2",
        };
        return json;
    }

    /// <summary>The delete operation: done once the queued resource is gone.</summary>
    public JsonObject DeleteOperationToJson(DateTimeOffset now)
    {
        var done = RemoveAt <= now;
        var json = OperationToJson(DeleteOperation!, "delete", done, null);
        if (done)
        {
            json["response"] = new JsonObject { ["@type"] = "type.googleapis.com/google.protobuf.Empty" };
        }

        return json;
    }

    /// <summary>A delete that failed in its operation (fault injection): done, with an INTERNAL error.</summary>
    public JsonObject FailedDeleteOperationToJson(string name) =>
        OperationToJson(name, "delete", done: true, new RpcStatus { Code = 13, Message = $"Deleting queued resource {Name} failed (simulated internal error)." });

    private JsonObject OperationToJson(string name, string verb, bool done, RpcStatus? error)
    {
        var json = Serialize(new Operation { Name = name, Done = done, Error = error });
        json["metadata"] = new JsonObject
        {
            ["@type"] = "type.googleapis.com/google.cloud.tpu.v2.OperationMetadata",
            ["target"] = Name,
            ["verb"] = verb,
            ["apiVersion"] = "v2",
        };
        return json;
    }

    private RpcStatus DeadlineExceeded() => new()
    {
        Code = 4,
        Message = $"Queued resource {Name} could not be provisioned before its validUntilDuration passed.",
    };

    private static JsonObject Serialize<T>(T value) => JsonSerializer.SerializeToNode(value, SimulatorJson.Options)!.AsObject();
}
