using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Functions.Local;
using SpotJax.Google;
using SpotJax.Google.Http;
using SpotJax.Google.OsLogin;

namespace SpotJax.Cli;

/// <summary>
/// The prerequisites <c>spotjax setup</c> checks. Nothing reaches the network until the local ones
/// (gcloud, credentials, project, bucket) are in place, and every call has a short deadline.
/// </summary>
public static class SetupChecks
{
    /// <summary>The APIs a SpotJax deployment uses.</summary>
    public static readonly IReadOnlyList<string> Apis =
    [
        "tpu.googleapis.com", "pubsub.googleapis.com", "firestore.googleapis.com", "storage.googleapis.com",
        "run.googleapis.com", "eventarc.googleapis.com", "cloudscheduler.googleapis.com", "secretmanager.googleapis.com",
    ];

    private static readonly Uri ServiceUsageRoot = new("https://serviceusage.googleapis.com/");
    private static readonly Uri StorageRoot = new("https://storage.googleapis.com/storage/v1/");
    private const string Terraform = "run `terraform apply` in infra/ (see the README's \"Deploy to Google Cloud\")";

    /// <summary>What local mode needs: Python 3 with venv for the node agent, a writable state folder.</summary>
    public static async Task<List<SetupCheck>> LocalAsync(string stateDir, CancellationToken ct)
    {
        var checks = new List<SetupCheck>();
        var python = await RunAsync("python3", ["-c", "import sys, venv; print(sys.version.split()[0])"], ct);
        checks.Add(python is { Exit: 0 } ran
            ? SetupCheck.Ok("python3", $"Python {ran.Output.Trim()} with venv")
            : SetupCheck.Missing("python3", "python3 with venv not found: install it (Debian/Ubuntu: `sudo apt-get install -y python3 python3-venv`)"));

        try
        {
            Directory.CreateDirectory(stateDir);
            var probe = Path.Combine(stateDir, $".setup-{Guid.NewGuid():N}");
            await File.WriteAllTextAsync(probe, "", ct);
            File.Delete(probe);
            checks.Add(SetupCheck.Ok("state folder", stateDir));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            checks.Add(SetupCheck.Missing("state folder", $"cannot write the state folder {stateDir} ({e.Message}): pass --state-dir DIR or set {CliPaths.LocalDirVariable}"));
        }

        checks.Add(LocalPlaneInfo.ReadLive(stateDir) is { } plane
            ? SetupCheck.Ok("local plane", $"running (pid {plane.Pid}), status page {plane.Url.AbsoluteUri}")
            : SetupCheck.Note("local plane", "not running yet: start it with `spotjax local up --detach`"));
        checks.Add(File.Exists("/usr/sbin/sshd")
            ? SetupCheck.Ok("sshd", "/usr/sbin/sshd, for `spotjax run --local --ssh-workers`")
            : SetupCheck.Note("sshd", "optional, for `spotjax run --local --ssh-workers`: `sudo apt-get install -y openssh-server`"));
        return checks;
    }

    /// <summary>What a Google Cloud deployment and this command line need.</summary>
    public static async Task<List<SetupCheck>> GoogleAsync(string? project, string? bucket, CancellationToken ct)
    {
        var checks = new List<SetupCheck>();
        checks.Add(GcloudConfig.Executable() is { } gcloud
            ? SetupCheck.Ok("gcloud", gcloud)
            : SetupCheck.Missing("gcloud", "gcloud not found: install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"));
        var credentials = GcloudConfig.CredentialsFile();
        checks.Add(credentials is not null
            ? SetupCheck.Ok("credentials", $"Application Default Credentials in {credentials}")
            : SetupCheck.Missing("credentials", "no Application Default Credentials: run `gcloud auth application-default login`"));
        checks.Add(project is not null
            ? SetupCheck.Ok("project", project)
            : SetupCheck.Missing("project", "no project: run `gcloud config set project PROJECT` or pass --project"));
        checks.Add(bucket is not null
            ? SetupCheck.Ok("bucket", $"gs://{bucket}")
            : SetupCheck.Missing("bucket", $"no control bucket: pass --bucket BUCKET (the one `terraform apply` in infra/ made) or set {TargetOptions.BucketVariable}; `spotjax setup --fix --bucket BUCKET` remembers it"));
        if (credentials is null || project is null)
        {
            checks.Add(SetupCheck.Note("deployment", "the APIs, topics and bucket are checked once the lines above are fixed"));
            return checks;
        }

        using var http = new HttpClient();
        var tokens = GcloudConfig.TokenSource();
        var options = new GoogleApiOptions { Deadline = TimeSpan.FromSeconds(20), AttemptTimeout = TimeSpan.FromSeconds(10), MaxRetries = 1 };
        var transport = new GoogleApiTransport(http, tokens, options);
        var endpoints = new GoogleEndpoints(Environment.GetEnvironmentVariable, tokens);

        var disabled = await DisabledApisAsync(transport, project, checks, ct);
        if (disabled is null)
        {
            return checks;
        }

        var settings = await DeploymentAsync(transport, bucket, disabled.Contains("storage.googleapis.com"), checks, ct);
        if (!disabled.Contains("pubsub.googleapis.com"))
        {
            var pubsub = endpoints.PubSub.CreateTransport(http, options);
            foreach (var topic in settings.Topics.All)
            {
                checks.Add(await ExistsAsync(pubsub, new Uri(endpoints.PubSub.BaseUri, $"v1/projects/{project}/topics/{topic}"), $"topic {topic}", ct));
            }
        }

        if (!disabled.Contains("firestore.googleapis.com"))
        {
            checks.Add(await ExistsAsync(endpoints.Firestore.CreateTransport(http, options), new Uri(endpoints.Firestore.BaseUri, $"v1/projects/{project}/databases/{settings.FirestoreDatabase}"), $"Firestore database {settings.FirestoreDatabase}", ct));
        }

        if (bucket is not null && !disabled.Contains("storage.googleapis.com"))
        {
            checks.Add(await ExistsAsync(transport, new Uri(StorageRoot, $"b/{Uri.EscapeDataString(bucket)}"), $"bucket gs://{bucket}", ct));
        }

        checks.Add(await SshLoginAsync(new SshLoginDetector(transport, project), ct));
        return checks;
    }

    /// <summary>
    /// The deployment's topics and database, from the bucket's <see cref="DeploymentDescriptor.ObjectName"/> when it
    /// has one (<see cref="DeploymentSettings"/>), with a line saying what was found.
    /// </summary>
    private static async Task<DeploymentSettings> DeploymentAsync(GoogleApiTransport transport, string? bucket, bool storageDisabled, List<SetupCheck> checks, CancellationToken ct)
    {
        byte[]? descriptor = null;
        if (bucket is not null && !storageDisabled)
        {
            try
            {
                var uri = new Uri(StorageRoot, $"b/{Uri.EscapeDataString(bucket)}/o/{Uri.EscapeDataString(DeploymentDescriptor.ObjectName)}?alt=media");
                descriptor = Encoding.UTF8.GetBytes(await transport.SendAsync(HttpMethod.Get, uri, null, idempotent: true, ct));
            }
            catch (GoogleApiException e) when (e.HttpStatus == HttpStatusCode.NotFound)
            {
                // A deployment made before the descriptor, or no deployment yet: the bucket's own line says which.
            }
            catch (GoogleApiException e)
            {
                checks.Add(SetupCheck.Note(DeploymentCheck, $"cannot read gs://{bucket}/{DeploymentDescriptor.ObjectName} ({e.Message}): using {DeploymentSettings.NamePrefixVariable}/{DeploymentSettings.FirestoreDatabaseVariable} or the defaults"));
            }
        }

        try
        {
            var settings = DeploymentSettings.From(bucket ?? "BUCKET", descriptor, Environment.GetEnvironmentVariable);
            checks.Add(descriptor is not null ? SetupCheck.Ok(DeploymentCheck, settings.Source) : SetupCheck.Note(DeploymentCheck, settings.Source));
            return settings;
        }
        catch (CliException e)
        {
            checks.Add(SetupCheck.Missing(DeploymentCheck, e.Message));
            return new DeploymentSettings(Topics.Default, "(default)", "the defaults");
        }
    }

    private const string DeploymentCheck = "deployment";

    /// <summary>
    /// How <c>launch</c> logs in to the project's TPU VMs under the default <c>ssh_login=auto</c>: the
    /// organisation policy <c>compute.requireOsLogin</c>, then the project metadata <c>enable-oslogin</c>.
    /// Informational: either mode works once <c>terraform apply</c> has run.
    /// </summary>
    public static async Task<SetupCheck> SshLoginAsync(SshLoginDetector detector, CancellationToken ct)
    {
        try
        {
            return SshLogin(await detector.DetectAsync(SshLoginSetting.Auto, ct));
        }
        catch (GoogleApiException e)
        {
            return SetupCheck.Note(SshLoginCheck, $"cannot tell whether the project uses OS Login ({e.Message}): check `gcloud compute project-info describe` for enable-oslogin, or set ssh_login in infra/terraform.tfvars");
        }
    }

    /// <summary>The line for a decided login mode, saying why and what it means for a deployment.</summary>
    public static SetupCheck SshLogin(SshLoginMode mode) => SetupCheck.Ok(SshLoginCheck, mode.OsLogin
        ? $"OS Login ({mode.Reason}): launch imports its key for its own service account with a 30-minute TTL and logs in as that account's POSIX user from its login profile; infra/ grants it roles/compute.osAdminLogin"
        : $"metadata keys ({mode.Reason}): provisioning puts launch's public key into the TPU VMs' ssh-keys metadata; ssh_login=oslogin in infra/terraform.tfvars switches to OS Login");

    private const string SshLoginCheck = "SSH login";

    /// <summary>Enables the APIs with gcloud (for <c>--fix</c>); the output of gcloud when it failed.</summary>
    public static async Task<string?> EnableApisAsync(string project, IReadOnlyList<string> apis, CancellationToken ct)
    {
        var result = await RunAsync("gcloud", ["services", "enable", .. apis, "--project", project, "--quiet"], ct, TimeSpan.FromMinutes(5));
        return result is { Exit: 0 } ? null : result?.Output ?? "gcloud could not be started";
    }

    /// <summary>The required APIs that are not enabled; null (with a check added) when Service Usage could not tell.</summary>
    private static async Task<HashSet<string>?> DisabledApisAsync(GoogleApiTransport transport, string project, List<SetupCheck> checks, CancellationToken ct)
    {
        var query = string.Join('&', Apis.Select(api => $"names=projects/{project}/services/{api}"));
        string body;
        try
        {
            body = await transport.SendAsync(HttpMethod.Get, new Uri(ServiceUsageRoot, $"v1/projects/{project}/services:batchGet?{query}"), null, idempotent: true, ct);
        }
        catch (GoogleApiException e)
        {
            checks.Add(SetupCheck.Missing("APIs", e.HttpStatus == HttpStatusCode.Forbidden
                ? $"cannot read the project's APIs ({e.Message}): check the project id and that your account may use it (`gcloud projects describe {project}`)"
                : $"cannot reach Google Cloud to read the project's APIs ({e.Message}): check the network and run `spotjax setup` again"));
            return null;
        }

        var enabled = new HashSet<string>(StringComparer.Ordinal);
        using (var json = JsonDocument.Parse(body))
        {
            if (json.RootElement.TryGetProperty("services", out var services))
            {
                foreach (var service in services.EnumerateArray())
                {
                    if (service.TryGetProperty("state", out var state) && state.GetString() == "ENABLED" && service.TryGetProperty("name", out var name))
                    {
                        enabled.Add(name.GetString()![(name.GetString()!.LastIndexOf('/') + 1)..]);
                    }
                }
            }
        }

        var disabled = new HashSet<string>(Apis.Where(api => !enabled.Contains(api)), StringComparer.Ordinal);
        foreach (var api in Apis)
        {
            checks.Add(disabled.Contains(api)
                ? SetupCheck.Missing($"API {api}", $"API {api} not enabled: run `gcloud services enable {api} --project {project}`")
                : SetupCheck.Ok($"API {api}", "enabled"));
        }

        return disabled;
    }

    private static async Task<SetupCheck> ExistsAsync(GoogleApiTransport transport, Uri uri, string what, CancellationToken ct)
    {
        try
        {
            await transport.SendAsync(HttpMethod.Get, uri, null, idempotent: true, ct);
            return SetupCheck.Ok(what, "exists");
        }
        catch (GoogleApiException e) when (e.HttpStatus == HttpStatusCode.NotFound)
        {
            return SetupCheck.Missing(what, $"{what} missing: {Terraform}");
        }
        catch (GoogleApiException e)
        {
            return SetupCheck.Missing(what, $"cannot read {what} ({e.Message}): check that your account has access to it");
        }
    }

    private static async Task<(int Exit, string Output)?> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct, TimeSpan? limit = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        using (process)
        {
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync(ct);
            var error = process.StandardError.ReadToEndAsync(ct);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(limit ?? TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"{program} did not finish in time");
            }

            return (process.ExitCode, await output + await error);
        }
    }
}
