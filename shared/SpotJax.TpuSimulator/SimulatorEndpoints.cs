using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>
/// The simulator's HTTP surface: the Cloud TPU v2 REST API, the admin routes that inject events, and one
/// metadata server per node. Routed by hand so that every miss still answers with the API's error envelope.
/// </summary>
internal sealed class SimulatorEndpoints(SimulatorState state, CancellationToken stopping)
{
    private static readonly TimeSpan MetadataWaitLimit = TimeSpan.FromSeconds(60);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var segments = (request.Path.Value ?? "").TrimStart('/').Split('/');
        try
        {
            if (segments is ["metadata", var zone, var nodeId, "computeMetadata", "v1", "instance", var key])
            {
                await MetadataAsync(context, zone, nodeId, key);
                return;
            }

            if (segments is ["metadata", var tokenZone, var tokenNodeId, "computeMetadata", "v1", "instance", "service-accounts", "default", "token"])
            {
                await TokenAsync(context, tokenZone, tokenNodeId);
                return;
            }

            if (request.Method == "GET" && segments is ["v1", ..] && request.Path.Value!.EndsWith(":access", StringComparison.Ordinal))
            {
                await WriteJsonAsync(context, HttpStatusCode.OK, AccessSecret(context));
                return;
            }

            if (segments is ["computeMetadata", "v1", "oslogin", "users"])
            {
                await OsLoginUsersAsync(context);
                return;
            }

            if (await OsLoginApiAsync(context, request.Method, segments) is { } answer)
            {
                await WriteJsonAsync(context, HttpStatusCode.OK, answer);
                return;
            }

            var apiMethod = ApiMethod(request.Method, segments);
            if (apiMethod is not null)
            {
                state.Calls.Count(apiMethod);
            }

            var fault = apiMethod is not null ? state.Faults.Draw(apiMethod) : CallFault.None;
            switch (fault)
            {
                case CallFault.RateLimit:
                    throw SimulatorFaults.RateLimited(segments[2], ApiMethod(request.Method, segments)!);
                case CallFault.Unavailable:
                    throw SimulatorFaults.Unavailable();
                case CallFault.Timeout when !state.Faults.Current.TimeoutAfterApplying:
                    await HangAsync(context);
                    return;
            }

            var result = await ApiAsync(context, request.Method, segments);
            if (fault == CallFault.Timeout)
            {
                // Done, but the answer never comes: the client's retry meets what the call did.
                await HangAsync(context);
                return;
            }

            await WriteJsonAsync(context, HttpStatusCode.OK, result);
        }
        catch (SimulatorApiException e)
        {
            if (e.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = ((long)retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            await WriteErrorAsync(context, e.HttpStatus, e.Status, e.Message, e.Details);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away; nobody is left to answer.
        }
        catch (IOException e)
        {
            // A node folder that cannot be created: still an answer in the API's own error shape.
            await WriteErrorAsync(context, HttpStatusCode.InternalServerError, "INTERNAL", e.Message);
        }
    }

    private async Task<JsonObject> ApiAsync(HttpContext context, string method, string[] segments)
    {
        var query = context.Request.Query;
        return (method, segments) switch
        {
            ("POST", ["v2", "projects", var p, "locations", var z, "queuedResources"]) =>
                state.Create(p, z, query["queuedResourceId"], query["requestId"], await ReadBodyAsync(context)),
            ("GET", ["v2", "projects", var p, "locations", var z, "queuedResources"]) =>
                state.List(p, z, query["pageSize"], query["pageToken"]),
            ("GET", ["v2", "projects", var p, "locations", var z, "queuedResources", var id]) =>
                state.Get(p, z, id),
            ("DELETE", ["v2", "projects", var p, "locations", var z, "queuedResources", var id]) =>
                state.Delete(p, z, id, string.Equals(query["force"], "true", StringComparison.OrdinalIgnoreCase), query["requestId"]),
            ("GET", ["v2", "projects", var p, "locations", var z, "nodes"]) =>
                state.ListNodes(p, z, query["pageSize"], query["pageToken"]),
            ("GET", ["v2", "projects", var p, "locations", var z, "nodes", var id]) =>
                state.GetNode(p, z, id),
            ("GET", ["v2", "projects", var p, "locations", var z, "operations", var id]) =>
                state.GetOperation(p, z, id),
            ("POST", ["simulator", "v1", "projects", var p, "locations", var z, "queuedResources", var action]) =>
                Inject(p, z, action, context.Request.Query["slice"].ToString()),
            ("PUT", ["simulator", "v1", "faults"]) =>
                SetFaults(await ReadJsonAsync<TpuFaults>(context, "TpuFaults")),
            ("POST", ["simulator", "v1", "locations", var zoneAction]) =>
                SetCapacity(zoneAction),
            _ => throw new SimulatorApiException(HttpStatusCode.NotFound, "NOT_FOUND", $"No method {method} {context.Request.Path}."),
        };
    }

    /// <summary>
    /// OS Login, Compute Engine <c>projects.get</c> and Org Policy <c>getEffectivePolicy</c>
    /// (<see cref="SimulatedOsLogin"/>); null when the call is none of them.
    /// </summary>
    private async Task<JsonObject?> OsLoginApiAsync(HttpContext context, string method, string[] segments)
    {
        var query = context.Request.Query;
        var authorization = context.Request.Headers.Authorization.ToString();
        var bearer = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
        var osLogin = state.OsLogin;
        switch (method, segments)
        {
            case ("POST", ["v1", "users", var user]) when user.EndsWith(":importSshPublicKey", StringComparison.Ordinal):
                using (var reader = new StreamReader(context.Request.Body))
                {
                    return osLogin.Import(user[..^":importSshPublicKey".Length], query["projectId"], bearer, await reader.ReadToEndAsync(context.RequestAborted));
                }

            case ("GET", ["v1", "users", var user, "loginProfile"]):
                return osLogin.GetLoginProfile(user, query["projectId"], query["systemId"], bearer);
            case ("GET", ["compute", "v1", "projects", var project]):
                return osLogin.GetComputeProject(project, bearer);
            case ("GET", ["v2", "projects", var project, "policies", var policy]) when policy.EndsWith(":getEffectivePolicy", StringComparison.Ordinal):
                return osLogin.GetEffectivePolicy(project, policy[..^":getEffectivePolicy".Length], bearer);
            default:
                return null;
        }
    }

    /// <summary>The guest's OS Login lookup, <c>computeMetadata/v1/oslogin/users?username=NAME</c>, as an AuthorizedKeysCommand asks it.</summary>
    private async Task OsLoginUsersAsync(HttpContext context)
    {
        if (!string.Equals(context.Request.Headers["Metadata-Flavor"], "Google", StringComparison.Ordinal))
        {
            await WriteTextAsync(context, HttpStatusCode.Forbidden, "Missing Metadata-Flavor:Google header.");
            return;
        }

        if (context.Request.Method != "GET" || state.OsLogin.LookUp(context.Request.Query["username"].ToString()) is not { } profiles)
        {
            await WriteTextAsync(context, HttpStatusCode.NotFound, "Not found.");
            return;
        }

        await WriteJsonAsync(context, HttpStatusCode.OK, profiles);
    }

    /// <summary>
    /// <c>:preempt</c> (every node, or with <c>?slice=N</c> the node of slice N only) or <c>:maintenance</c> on a
    /// queued resource.
    /// </summary>
    private JsonObject Inject(string project, string zone, string action, string slice)
    {
        var colon = action.LastIndexOf(':');
        var id = colon < 0 ? action : action[..colon];
        switch (colon < 0 ? "" : action[(colon + 1)..])
        {
            case "preempt":
                state.Preempt(project, zone, id, Slice(slice));
                break;
            case "maintenance":
                state.InjectMaintenance(project, zone, id);
                break;
            default:
                throw new SimulatorApiException(HttpStatusCode.NotFound, "NOT_FOUND", $"No simulator action '{action}'; use :preempt or :maintenance.");
        }

        return state.Get(project, zone, id);
    }

    private static int? Slice(string slice) =>
        slice.Length == 0 ? null
        : int.TryParse(slice, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index
        : throw SimulatorApiException.InvalidArgument($"slice '{slice}' is not a slice index.");

    /// <summary>The TPU API method a call is, as named in <see cref="TpuFaults.Methods"/>; null for the simulator's own routes.</summary>
    private static string? ApiMethod(string method, string[] segments) => (method, segments) switch
    {
        ("POST", ["v2", "projects", _, "locations", _, "queuedResources"]) => "queuedResources.create",
        ("GET", ["v2", "projects", _, "locations", _, "queuedResources"]) => "queuedResources.list",
        ("GET", ["v2", "projects", _, "locations", _, "queuedResources", _]) => "queuedResources.get",
        ("DELETE", ["v2", "projects", _, "locations", _, "queuedResources", _]) => "queuedResources.delete",
        ("GET", ["v2", "projects", _, "locations", _, "nodes"]) => "nodes.list",
        ("GET", ["v2", "projects", _, "locations", _, "nodes", _]) => "nodes.get",
        ("GET", ["v2", "projects", _, "locations", _, "operations", _]) => "operations.get",
        _ => null,
    };

    /// <summary>Holds a call without an answer until the client gives up, or aborts it when the simulator stops.</summary>
    private async Task HangAsync(HttpContext context)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, waiting.Token);
        }
        catch (OperationCanceledException)
        {
            context.Abort();
        }
    }

    private JsonObject SetFaults(TpuFaults faults)
    {
        state.Faults.Set(faults);
        return JsonSerializer.SerializeToNode(faults, SimulatorJson.Options)!.AsObject();
    }

    /// <summary><c>POST simulator/v1/locations/{zone}:stockOut</c> starts a stock-out in the zone, <c>:restock</c> ends it.</summary>
    private JsonObject SetCapacity(string zoneAction)
    {
        var colon = zoneAction.LastIndexOf(':');
        var zone = colon < 0 ? zoneAction : zoneAction[..colon];
        var hasCapacity = (colon < 0 ? "" : zoneAction[(colon + 1)..]) switch
        {
            "stockOut" => false,
            "restock" => true,
            _ => throw new SimulatorApiException(HttpStatusCode.NotFound, "NOT_FOUND", $"No simulator action '{zoneAction}'; use :stockOut or :restock."),
        };
        state.SetCapacity(zone, hasCapacity);
        return new JsonObject { ["zone"] = zone, ["hasCapacity"] = hasCapacity };
    }

    /// <summary>
    /// Secret Manager's <c>GET v1/{name}:access</c>: the bearer token must be one the metadata server of an
    /// existing node handed out (401 otherwise), the name a secret version (400), the version known (404).
    /// </summary>
    private JsonObject AccessSecret(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        if (!authorization.StartsWith(bearer, StringComparison.Ordinal) || !state.IsNodeToken(authorization[bearer.Length..]))
        {
            throw new SimulatorApiException(HttpStatusCode.Unauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token.");
        }

        var path = context.Request.Path.Value!;
        return state.Secrets.Access(path["/v1/".Length..^":access".Length]);
    }

    private async Task TokenAsync(HttpContext context, string zone, string nodeId)
    {
        var request = context.Request;
        if (!string.Equals(request.Headers["Metadata-Flavor"], "Google", StringComparison.Ordinal))
        {
            await WriteTextAsync(context, HttpStatusCode.Forbidden, "Missing Metadata-Flavor:Google header.");
            return;
        }

        var metadata = state.FindMetadata(zone, nodeId);
        if (request.Method != "GET" || metadata is null)
        {
            await WriteTextAsync(context, HttpStatusCode.NotFound, "Not found.");
            return;
        }

        context.Response.Headers["Metadata-Flavor"] = "Google";
        await WriteJsonAsync(context, HttpStatusCode.OK, new JsonObject
        {
            ["access_token"] = metadata.AccessToken,
            ["expires_in"] = 3599,
            ["token_type"] = "Bearer",
        });
    }

    private async Task MetadataAsync(HttpContext context, string zone, string nodeId, string key)
    {
        var request = context.Request;
        if (!string.Equals(request.Headers["Metadata-Flavor"], "Google", StringComparison.Ordinal))
        {
            // The real server refuses requests without the header so that a redirected browser cannot read it.
            await WriteTextAsync(context, HttpStatusCode.Forbidden, "Missing Metadata-Flavor:Google header.");
            return;
        }

        var metadata = state.FindMetadata(zone, nodeId);
        if (request.Method != "GET" || metadata is null || !NodeMetadata.IsKnownKey(key))
        {
            await WriteTextAsync(context, HttpStatusCode.NotFound, "Not found.");
            return;
        }

        var wait = string.Equals(request.Query["wait_for_change"], "true", StringComparison.OrdinalIgnoreCase);
        string value;
        using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping))
        {
            try
            {
                value = await metadata.ReadAsync(key, wait, request.Query["last_etag"], MetadataWaitLimit, state.Time, waiting.Token);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                // The simulator is stopping: answer with what is there instead of holding shutdown up.
                value = metadata.Read(key);
            }
        }

        // Unquoted, as the metadata server sends it; clients echo it back as last_etag.
        context.Response.Headers.ETag = NodeMetadata.ETag(value);
        await WriteTextAsync(context, HttpStatusCode.OK, value);
    }

    private static Task<QueuedResource> ReadBodyAsync(HttpContext context) => ReadJsonAsync<QueuedResource>(context, "QueuedResource");

    private static async Task<T> ReadJsonAsync<T>(HttpContext context, string what)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(context.Request.Body, SimulatorJson.Options, context.RequestAborted)
                ?? throw SimulatorApiException.InvalidArgument($"The request body must be a {what}.");
        }
        catch (JsonException e)
        {
            throw SimulatorApiException.InvalidArgument($"Invalid {what}: {e.Message}");
        }
    }

    private static Task WriteErrorAsync(HttpContext context, HttpStatusCode httpStatus, string status, string message, JsonArray? details = null)
    {
        var error = new JsonObject
        {
            ["code"] = (int)httpStatus,
            ["message"] = message,
            ["status"] = status,
        };
        if (details is not null)
        {
            error["details"] = details;
        }

        return WriteJsonAsync(context, httpStatus, new JsonObject { ["error"] = error });
    }

    private static async Task WriteJsonAsync(HttpContext context, HttpStatusCode httpStatus, JsonObject body)
    {
        context.Response.StatusCode = (int)httpStatus;
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync(body.ToJsonString(SimulatorJson.Options), context.RequestAborted);
    }

    private static async Task WriteTextAsync(HttpContext context, HttpStatusCode httpStatus, string text)
    {
        context.Response.StatusCode = (int)httpStatus;
        context.Response.ContentType = "application/text";
        context.Response.Headers["Metadata-Flavor"] = "Google";
        await context.Response.WriteAsync(text, context.RequestAborted);
    }
}
