using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.Core.Tpu;

// Cloud TPU v2 REST shapes (google/cloud/tpu/v2/cloud_tpu.proto, proto3 JSON mapping).
// Only the fields SpotJax reads or writes; unknown fields are ignored on read.

public sealed record QueuedResource
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("createTime")] public string? CreateTime { get; init; }
    [JsonPropertyName("tpu")] public QueuedResourceTpu? Tpu { get; init; }
    [JsonPropertyName("spot")] public Spot? Spot { get; init; }
    [JsonPropertyName("queueingPolicy")] public QueueingPolicy? QueueingPolicy { get; init; }
    [JsonPropertyName("state")] public QueuedResourceState? State { get; init; }

    /// <summary>The last path segment of <see cref="Name"/>.</summary>
    [JsonIgnore] public string Id => Name is null ? "" : Name[(Name.LastIndexOf('/') + 1)..];

    /// <summary>The SpotJax labels of the first node spec (job id, attempt), if any.</summary>
    [JsonIgnore] public IReadOnlyDictionary<string, string> NodeLabels =>
        Tpu?.NodeSpec is [{ Node.Labels: { } labels }, ..] ? labels : new Dictionary<string, string>();
}

public sealed record QueuedResourceTpu
{
    [JsonPropertyName("nodeSpec")] public IReadOnlyList<NodeSpec> NodeSpec { get; init; } = [];
}

public sealed record NodeSpec
{
    [JsonPropertyName("parent")] public required string Parent { get; init; }

    /// <summary>The one node's id; unset when <see cref="MultisliceParams"/> is.</summary>
    [JsonPropertyName("nodeId")] public string? NodeId { get; init; }

    /// <summary>
    /// Several nodes from this spec: "This message must be populated in case of multislice requests instead of
    /// node_id" (cloud_tpu.proto, QueuedResource.Tpu.NodeSpec.multislice_params;
    /// https://cloud.google.com/tpu/docs/reference/rest/v2/projects.locations.queuedResources).
    /// </summary>
    [JsonPropertyName("multisliceParams")] public MultisliceParams? MultisliceParams { get; init; }

    [JsonPropertyName("node")] public required Node Node { get; init; }
}

/// <summary>
/// <c>nodeSpec[].multisliceParams</c> (cloud_tpu.proto, NodeSpec.MultisliceParams): <c>nodeCount</c> "Required ...
/// This needs to be &gt; 1"; <c>nodeIdPrefix</c> "Optional ... Should follow the ^[A-Za-z0-9_.~+%-]+$ regex format. If
/// node_count = 3 and node_id_prefix = "np", node ids of nodes created will be "np-0", "np-1", "np-2". If this field is
/// not provided we use queued_resource_id as the node_id_prefix."
/// </summary>
public sealed record MultisliceParams
{
    [JsonPropertyName("nodeCount")] public int NodeCount { get; init; }
    [JsonPropertyName("nodeIdPrefix")] public string? NodeIdPrefix { get; init; }
}

/// <summary>The empty Spot tier message, <c>"spot": {}</c>.</summary>
public sealed record Spot;

public sealed record QueueingPolicy
{
    /// <summary>A protobuf Duration such as <c>"7200s"</c>.</summary>
    [JsonPropertyName("validUntilDuration")] public string? ValidUntilDuration { get; init; }
}

public sealed record QueuedResourceState
{
    /// <summary>CREATING, ACCEPTED, PROVISIONING, FAILED, DELETING, ACTIVE, SUSPENDING, SUSPENDED, WAITING_FOR_RESOURCES.</summary>
    [JsonPropertyName("state")] public string? State { get; init; }

    /// <summary>USER or SERVICE.</summary>
    [JsonPropertyName("stateInitiator")] public string? StateInitiator { get; init; }

    [JsonPropertyName("failedData")] public FailedData? FailedData { get; init; }
}

public sealed record FailedData
{
    [JsonPropertyName("error")] public RpcStatus? Error { get; init; }
}

/// <summary>google.rpc.Status inside a resource: <c>code</c> is the numeric gRPC code.</summary>
public sealed record RpcStatus
{
    [JsonPropertyName("code")] public int Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }

    /// <summary>Typed details (<c>google.protobuf.Any</c>); only <c>google.rpc.ErrorInfo</c> is read.</summary>
    [JsonPropertyName("details")] public IReadOnlyList<RpcStatusDetail>? Details { get; init; }

    /// <summary>The <c>reason</c> of the first <c>google.rpc.ErrorInfo</c> detail, if any.</summary>
    [JsonIgnore] public string? Reason => Details?.FirstOrDefault(d => d.Type == RpcStatusDetail.ErrorInfoType)?.Reason;
}

/// <summary>One entry of <c>google.rpc.Status.details</c>; the fields of <c>google.rpc.ErrorInfo</c>.</summary>
public sealed record RpcStatusDetail
{
    public const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";

    [JsonPropertyName("@type")] public string? Type { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }
    [JsonPropertyName("domain")] public string? Domain { get; init; }
    [JsonPropertyName("metadata")] public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

public sealed record Node
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("acceleratorType")] public string? AcceleratorType { get; init; }
    [JsonPropertyName("runtimeVersion")] public string? RuntimeVersion { get; init; }
    [JsonPropertyName("networkConfig")] public NetworkConfig? NetworkConfig { get; init; }
    [JsonPropertyName("schedulingConfig")] public SchedulingConfig? SchedulingConfig { get; init; }
    [JsonPropertyName("metadata")] public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    [JsonPropertyName("labels")] public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Network tags of the TPU VMs, "used to identify valid sources or targets for network firewalls" (cloud_tpu.proto, Node.tags).</summary>
    [JsonPropertyName("tags")] public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>The identity of the TPU VMs, whose metadata-server tokens the workers use.</summary>
    [JsonPropertyName("serviceAccount")] public NodeServiceAccount? ServiceAccount { get; init; }

    /// <summary>CREATING, READY, ..., PREEMPTED, TERMINATED.</summary>
    [JsonPropertyName("state")] public string? State { get; init; }

    /// <summary>HEALTHY, TIMEOUT, UNHEALTHY_TENSORFLOW, UNHEALTHY_MAINTENANCE.</summary>
    [JsonPropertyName("health")] public string? Health { get; init; }

    /// <summary>One entry per worker; entry 0 is worker 0.</summary>
    [JsonPropertyName("networkEndpoints")] public IReadOnlyList<NetworkEndpoint>? NetworkEndpoints { get; init; }

    /// <summary>Why <see cref="Health"/> is what it is, in words (output only).</summary>
    [JsonPropertyName("healthDescription")] public string? HealthDescription { get; init; }

    /// <summary>The queued resource that created the node, <c>projects/P/locations/Z/queuedResources/ID</c> (output only).</summary>
    [JsonPropertyName("queuedResource")] public string? QueuedResource { get; init; }

    [JsonPropertyName("createTime")] public string? CreateTime { get; init; }
}

/// <summary>
/// <c>node.networkConfig</c> (cloud_tpu.proto, NetworkConfig). Unset network and subnetwork mean "default"; with
/// <c>enableExternalIps</c> false, the subnetwork should have Private Google Access.
/// </summary>
public sealed record NetworkConfig
{
    /// <summary><c>projects/P/global/networks/N</c> (the API also takes shorter forms; SpotJax sends this one).</summary>
    [JsonPropertyName("network")] public string? Network { get; init; }

    /// <summary><c>projects/P/regions/R/subnetworks/S</c>, R being the region of the node's zone.</summary>
    [JsonPropertyName("subnetwork")] public string? Subnetwork { get; init; }

    [JsonPropertyName("enableExternalIps")] public bool EnableExternalIps { get; init; }
}

/// <summary><c>node.serviceAccount</c>: note that <c>scope</c> (singular) is the list of OAuth scopes.</summary>
public sealed record NodeServiceAccount
{
    /// <summary>The broad OAuth scope, so that IAM roles alone decide what the TPU VMs may do.</summary>
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    [JsonPropertyName("email")] public required string Email { get; init; }
    [JsonPropertyName("scope")] public IReadOnlyList<string> Scope { get; init; } = [CloudPlatformScope];
}

public sealed record SchedulingConfig
{
    [JsonPropertyName("spot")] public bool Spot { get; init; }
}

public sealed record NetworkEndpoint
{
    [JsonPropertyName("ipAddress")] public string? IpAddress { get; init; }
    [JsonPropertyName("port")] public int Port { get; init; }

    /// <summary>The worker's external address; present only with <c>networkConfig.enableExternalIps</c>.</summary>
    [JsonPropertyName("accessConfig")] public AccessConfig? AccessConfig { get; init; }
}

/// <summary>A worker's external address (<c>networkEndpoints[].accessConfig</c>).</summary>
public sealed record AccessConfig
{
    [JsonPropertyName("externalIp")] public string? ExternalIp { get; init; }
}

/// <summary>A long-running operation (google.longrunning.Operation).</summary>
public sealed record Operation
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("done")] public bool Done { get; init; }

    /// <summary>Set when the operation ended in failure (numeric gRPC code); checked before <see cref="Response"/>.</summary>
    [JsonPropertyName("error")] public RpcStatus? Error { get; init; }

    /// <summary>
    /// Set when the operation succeeded: the resource with its <c>@type</c> (a QueuedResource for a create,
    /// <c>google.protobuf.Empty</c> for a delete).
    /// </summary>
    [JsonPropertyName("response")] public JsonElement? Response { get; init; }

    [JsonPropertyName("metadata")] public OperationMetadata? Metadata { get; init; }

    /// <summary>Done without an error.</summary>
    [JsonIgnore] public bool Succeeded => Done && Error is null;
}

/// <summary>google.cloud.tpu.v2.OperationMetadata: what the operation acts on and how far it got.</summary>
public sealed record OperationMetadata
{
    [JsonPropertyName("createTime")] public string? CreateTime { get; init; }
    [JsonPropertyName("endTime")] public string? EndTime { get; init; }

    /// <summary>The resource acted on, such as <c>projects/P/locations/Z/queuedResources/ID</c>.</summary>
    [JsonPropertyName("target")] public string? Target { get; init; }

    /// <summary><c>create</c>, <c>delete</c>, ...</summary>
    [JsonPropertyName("verb")] public string? Verb { get; init; }

    [JsonPropertyName("statusDetail")] public string? StatusDetail { get; init; }
    [JsonPropertyName("cancelRequested")] public bool CancelRequested { get; init; }
}
