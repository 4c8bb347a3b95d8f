using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SpotJax.TpuSimulation;

/// <summary>
/// A local Cloud TPU v2 control plane on the loopback: the same REST API as <c>tpu.googleapis.com</c> (any
/// project id), queued resources moving through the real states on the injected clock, Spot preemptions that
/// signal the node's real processes, and a metadata server per node.
/// </summary>
/// <remarks>
/// <para>Routes, relative to <see cref="BaseUri"/>:</para>
/// <list type="bullet">
/// <item><c>v2/projects/{p}/locations/{zone}/queuedResources</c> create, get, list, delete; <c>.../nodes</c> get,
/// list; <c>.../operations/{id}</c> get; errors as the REST envelope <c>{"error":{"code","message","status"}}</c>.</item>
/// <item><c>POST simulator/v1/projects/{p}/locations/{zone}/queuedResources/{id}:preempt</c> (and <c>:maintenance</c>)
/// do what <see cref="PreemptAsync"/> (and <see cref="InjectMaintenanceAsync"/>) do.</item>
/// <item><c>PUT simulator/v1/faults</c> (a <see cref="TpuFaults"/>) and <c>POST simulator/v1/locations/{zone}:stockOut</c>
/// (and <c>:restock</c>) do what <see cref="SetFaults"/> and <see cref="SetZoneCapacity"/> do.</item>
/// <item><c>metadata/{zone}/{nodeId}/computeMetadata/v1/instance/preempted</c>, <c>.../maintenance-event</c> and
/// <c>.../service-accounts/default/token</c>, see <see cref="MetadataUrl"/>.</item>
/// <item><c>v1/projects/{p}/secrets/{s}/versions/{v}:access</c>, Secret Manager's read, see <see cref="AddSecret"/>.</item>
/// <item>OS Login, Compute Engine <c>projects.get</c> and Org Policy <c>getEffectivePolicy</c>, see <see cref="AddOsLoginAccount"/>.</item>
/// </list>
/// <para>
/// A preempted node stays visible in state PREEMPTED (its queued resource SUSPENDING, then SUSPENDED) until
/// its queued resource is deleted, as a preempted Spot queued resource is never re-queued by the service.
/// </para>
/// </remarks>
public sealed class TpuSimulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SimulatorState _state;
    private int _disposed;

    private TpuSimulator(WebApplication app, SimulatorState state, Uri baseUri, string nodesRoot)
    {
        _app = app;
        _state = state;
        BaseUri = baseUri;
        NodesRoot = nodesRoot;
    }

    /// <summary>The API root, <c>http://127.0.0.1:PORT/</c>; give it to the TPU client as its base URI.</summary>
    public Uri BaseUri { get; }

    /// <summary>The root of the node folders (<see cref="TpuSimulatorOptions.NodesRoot"/>), where workers of its nodes run.</summary>
    public string NodesRoot { get; }

    /// <summary>Starts a simulator on a free loopback port.</summary>
    /// <param name="options">Delays, capacity and the node folder root.</param>
    /// <param name="time">The clock for every state transition and signal; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="ct">Cancels the start.</param>
    public static async Task<TpuSimulator> StartAsync(TpuSimulatorOptions options, TimeProvider? time = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.NodesRoot);
        Directory.CreateDirectory(options.NodesRoot);

        // The empty builder reads no configuration files or environment, so nothing on the machine changes how it binds.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var app = builder.Build();
        var state = new SimulatorState(options, time ?? TimeProvider.System);
        var endpoints = new SimulatorEndpoints(state, app.Lifetime.ApplicationStopping);
        app.Run(endpoints.HandleAsync);
        try
        {
            await app.StartAsync(ct);
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            return new TpuSimulator(app, state, new Uri(address.TrimEnd('/') + "/"), options.NodesRoot);
        }
        catch
        {
            await app.DisposeAsync();
            state.Dispose();
            throw;
        }
    }

    /// <summary>The folder of a node, <c>{NodesRoot}/{zone}/{nodeId}</c>; worker <c>i</c> uses its <c>worker-i/</c>.</summary>
    public string NodeDirectory(string zone, string nodeId) => Call(() => _state.NodeDirectory(zone, nodeId));

    /// <summary>The metadata server base of a node, ending in <c>/computeMetadata/v1/</c>.</summary>
    /// <remarks>
    /// It answers <c>instance/preempted</c> (<c>TRUE</c>/<c>FALSE</c>) and <c>instance/maintenance-event</c>
    /// (<c>NONE</c>/<c>TERMINATE_ON_HOST_MAINTENANCE</c>) while the node exists, requires <c>Metadata-Flavor: Google</c>
    /// (403 otherwise), sends an <c>ETag</c>, and with <c>?wait_for_change=true</c> (optionally <c>&amp;last_etag=</c>)
    /// holds the request until the value changes, or for at most 60 s. <c>instance/service-accounts/default/token</c>
    /// gives the node's access token (<c>access_token</c>, <c>expires_in</c>, <c>token_type</c>), which the Secret
    /// Manager stand-in admits.
    /// </remarks>
    public Uri MetadataUrl(string zone, string nodeId)
    {
        Call(() => _state.NodeDirectory(zone, nodeId));
        return new Uri(BaseUri, $"metadata/{Uri.EscapeDataString(zone)}/{Uri.EscapeDataString(nodeId)}/computeMetadata/v1/");
    }

    /// <summary>
    /// A Spot preemption of an ACTIVE queued resource in any project: <c>instance/preempted</c> becomes TRUE, the node
    /// PREEMPTED, the queued resource SUSPENDING (initiator SERVICE), every process group of the node gets SIGTERM at
    /// once; after <see cref="TpuSimulatorOptions.PreemptionGrace"/> the survivors get SIGKILL and the queued resource
    /// is SUSPENDED.
    /// </summary>
    /// <param name="zone">The queued resource's zone.</param>
    /// <param name="queuedResourceId">The queued resource.</param>
    /// <param name="slice">Null: every node; otherwise only the node of that slice of a multislice queued resource
    /// (the others stay READY; the queued resource is SUSPENDING all the same).</param>
    /// <exception cref="InvalidOperationException">No such queued resource, it is not ACTIVE, or it has no such slice.</exception>
    public Task PreemptAsync(string zone, string queuedResourceId, int? slice = null)
    {
        Call(() => _state.Preempt(null, zone, queuedResourceId, slice));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Makes the next delete of the queued resource fail in its long-running operation: the operation is done at once
    /// with an INTERNAL error (code 13) and the queued resource and its node stay as they were. A delete sent again
    /// with the failed one's request id gets that failed operation back; one with a new request id deletes.
    /// </summary>
    /// <exception cref="InvalidOperationException">No such queued resource.</exception>
    public Task FailNextDeleteAsync(string zone, string queuedResourceId)
    {
        Call(() => _state.FailNextDelete(null, zone, queuedResourceId));
        return Task.CompletedTask;
    }

    /// <summary>Announces host maintenance: the node's <c>instance/maintenance-event</c> becomes TERMINATE_ON_HOST_MAINTENANCE.</summary>
    /// <exception cref="InvalidOperationException">No such queued resource, or it is not ACTIVE.</exception>
    public Task InjectMaintenanceAsync(string zone, string queuedResourceId)
    {
        Call(() => _state.InjectMaintenance(null, zone, queuedResourceId));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Replaces the injected faults (<see cref="TpuFaults"/>): per-call 429/503/timeouts, errors inside the create
    /// operation and quota per zone; the draws start again from the new seed. <c>PUT simulator/v1/faults</c> with
    /// the record as JSON does the same.
    /// </summary>
    public void SetFaults(TpuFaults faults) => _state.Faults.Set(faults);

    /// <summary>Creates answered 429 for the create rate quota (<see cref="TpuFaults.CreatesPerMinute"/>) since the start.</summary>
    public int CreatesRefusedForRate => _state.CreateRate.Refused;

    /// <summary>
    /// The TPU API calls received since the start or the last <see cref="ResetCallCounts"/>, by method as named in
    /// <see cref="TpuFaults.Methods"/> (<c>queuedResources.list</c>, <c>operations.get</c>, ...), each counted on
    /// arrival, whatever fault it was then answered with. The simulator's own routes are not counted.
    /// </summary>
    public IReadOnlyDictionary<string, long> CallCounts() => _state.Calls.Snapshot();

    /// <summary>Starts <see cref="CallCounts"/> from zero.</summary>
    public void ResetCallCounts() => _state.Calls.Reset();

    /// <summary>Every queued resource created, deleted (delete accepted) and preempted so far, in order, in any project.</summary>
    public IReadOnlyList<LedgerEntry> Ledger => _state.Ledger.Entries;

    /// <summary>
    /// Starts (<paramref name="hasCapacity"/> false) or ends a stock-out in <paramref name="zone"/>: while it lasts,
    /// queued resources created there wait in WAITING_FOR_RESOURCES; when it ends, those still waiting provision.
    /// <c>POST simulator/v1/locations/{zone}:stockOut</c> and <c>:restock</c> do the same.
    /// </summary>
    /// <exception cref="InvalidOperationException">The zone is not a zone name.</exception>
    public void SetZoneCapacity(string zone, bool hasCapacity) => Call(() => _state.SetCapacity(zone, hasCapacity));

    /// <summary>
    /// Adds a version holding <paramref name="value"/> (UTF-8) to the secret <paramref name="secretId"/> of
    /// <paramref name="project"/> in the Secret Manager stand-in, and returns the version number.
    /// </summary>
    /// <remarks>
    /// The stand-in answers <c>GET v1/projects/{p}/secrets/{s}/versions/{v}:access</c> (a number or <c>latest</c>)
    /// relative to <see cref="BaseUri"/>, as <c>secretmanager.googleapis.com</c> does: <c>name</c>,
    /// <c>payload.data</c> (base64) and <c>payload.dataCrc32c</c>. It wants the bearer token a node's metadata
    /// server hands out at <c>instance/service-accounts/default/token</c> (401 otherwise), answers 400 for a
    /// name that is not a secret version and 404 for an unknown secret or version.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The project or secret id does not follow Secret Manager's rules.</exception>
    public int AddSecret(string project, string secretId, string value) =>
        Call(() => _state.Secrets.Add(project, secretId, SimulatedSecrets.Text(value)));

    /// <summary>
    /// Seeds an account of the OS Login stand-in: calls carrying <paramref name="token"/> as their bearer
    /// token act as <paramref name="email"/>, whose POSIX account (in every project) is
    /// <paramref name="username"/> with <paramref name="uid"/>.
    /// </summary>
    /// <remarks>
    /// Routes, relative to <see cref="BaseUri"/>: <c>POST v1/users/{email}:importSshPublicKey?projectId=P</c>
    /// (body <c>SshPublicKey</c>: <c>key</c>, <c>expirationTimeUsec</c>) and <c>GET v1/users/{email}/loginProfile?projectId=P</c>
    /// answer as <c>oslogin.googleapis.com</c> (401 without a seeded token, 403 for another account's user,
    /// 400 for a malformed key, an unknown field or an expiry in the past); <c>GET compute/v1/projects/{p}</c>
    /// answers <c>commonInstanceMetadata.items</c> (see <see cref="SetProjectMetadata"/>);
    /// <c>GET v2/projects/{p}/policies/compute.requireOsLogin:getEffectivePolicy</c> answers
    /// <c>spec.rules[0].enforce</c> (see <see cref="RequireOsLogin"/>); and
    /// <c>GET computeMetadata/v1/oslogin/users?username=NAME</c> (with <c>Metadata-Flavor: Google</c>) answers
    /// <c>{"loginProfiles":[profile]}</c> with the unexpired keys only, for an sshd <c>AuthorizedKeysCommand</c>.
    /// </remarks>
    public void AddOsLoginAccount(string email, string username, long uid, string token) =>
        Call(() => _state.OsLogin.AddAccount(email, username, uid, token));

    /// <summary>Sets a project metadata item of the Compute Engine stand-in, such as <c>enable-oslogin</c>.</summary>
    public void SetProjectMetadata(string project, string key, string value) => _state.OsLogin.SetProjectMetadata(project, key, value);

    /// <summary>Enforces or lifts the organisation policy <c>constraints/compute.requireOsLogin</c> for a project.</summary>
    public void RequireOsLogin(string project, bool enforced) => _state.OsLogin.RequireOsLogin(project, enforced);

    /// <summary>The keys imported for <paramref name="email"/> that have not expired on the simulator's clock, with their expiry.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> OsLoginKeys(string email) => _state.OsLogin.ImportedKeys(email);

    /// <summary>How many metadata reads of the node are held open by <c>wait_for_change</c>; lets tests act only once a read hangs.</summary>
    internal int MetadataWaiters(string zone, string nodeId) => _state.FindMetadata(zone, nodeId)?.Waiters ?? 0;

    /// <summary>
    /// SIGKILLs the process groups registered under every node folder of <paramref name="nodesRoot"/>:
    /// the clean-up <see cref="DisposeAsync"/> does, for a simulator whose process was killed before
    /// it could dispose (its worker processes run in their own sessions and outlive it).
    /// </summary>
    public static void KillRegisteredProcesses(string nodesRoot)
    {
        if (!Directory.Exists(nodesRoot))
        {
            return;
        }

        foreach (var node in Directory.EnumerateDirectories(nodesRoot).SelectMany(Directory.EnumerateDirectories))
        {
            ProcessGroups.Kill(node);
        }
    }

    /// <summary>Stops the server and SIGKILLs every process group of every node, so no process outlives the simulator.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
            _state.Dispose();
        }
    }

    private static T Call<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SimulatorApiException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
    }

    private static void Call(Action action) => Call(() =>
    {
        action();
        return true;
    });
}
