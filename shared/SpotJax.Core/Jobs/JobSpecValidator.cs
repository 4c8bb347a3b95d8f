using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpotJax.Core.Jobs;

/// <summary>
/// Checks a job document tree, whether it came from JSON or YAML, and builds the <see cref="JobSpec"/>.
/// Keeps going after an error so the submitter sees every problem at once.
/// </summary>
internal sealed partial class JobSpecValidator
{
    private const string GsPrefix = "gs://";
    private const int MaxNameLength = 100;
    private const int MaxZones = 10;
    private const int MaxScriptLength = 512;
    private const int MaxArgs = 256;
    private const int MaxArgLength = 4096;
    private const int MaxEnvEntries = 100;
    private const int MaxEnvNameLength = 128;
    private const int MaxEnvValueBytes = 32 * 1024;
    private const int MaxObjectNameBytes = 1024;
    private const int MaxIndexUrls = 16;
    private const int MaxIndexUrlLength = 2048;
    private const int MaxPipArgs = 64;
    private const int MaxPipArgLength = 1024;
    private const int MaxSecretEntries = 32;
    private const decimal MaxCostUsdLimit = 1_000_000m;

    /// <summary>The rule a <c>secretEnv</c> reference follows, for error messages.</summary>
    public const string SecretReferenceRule =
        "expected projects/PROJECT/secrets/SECRET/versions/VERSION: PROJECT a project id (6 to 30 characters of a-z, 0-9, '-', " +
        "starting with a letter, not ending with '-') or number, SECRET 1 to 255 characters of A-Z, a-z, 0-9, '_', '-', " +
        "VERSION a version number or latest";

    private const string TpuTypeRule =
        "allowed: v2-N and v3-N with N a power of two from 8 to 2048; v4-N with N a power of two from 8 to 8192; " +
        "v5p-N with N a power of two from 8 to 16384; v5litepod-N and v6e-N with N one of 1, 4, 8, 16, 32, 64, 128, 256 " +
        "(for example v4-8, v5p-32, v5litepod-16, v6e-8)";

    private static readonly int[] SliceSizes = [1, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>The most slices a job may ask for (<see cref="JobSpec.Slices"/>); the TPU API only says more than one.</summary>
    public const int MaxSlices = 64;

    // The record's initialisers are the one source of the defaults.
    private static readonly JobSpec Defaults = new()
    {
        Name = "",
        Tpu = new TpuSpec { Type = "", Zones = [] },
        Code = "",
        Script = "",
    };

    private readonly JobDocumentOptions _options;
    private readonly List<JobDocumentError> _errors;

    private JobSpecValidator(JobDocumentOptions options, List<JobDocumentError> errors)
    {
        _options = options;
        _errors = errors;
    }

    /// <summary>The spec, or null when at least one error was added to <paramref name="errors"/>.</summary>
    public static JobSpec? Validate(JsonObject root, JobDocumentOptions options, List<JobDocumentError> errors) =>
        new JobSpecValidator(options, errors).Spec(root);

    /// <summary>The rule a zone follows, for error messages.</summary>
    public const string ZoneRule = "expected region-zone such as us-central2-b or europe-west4-a";

    /// <summary>Whether <paramref name="zone"/> has the shape of a Google Cloud zone (<c>us-central2-b</c>).</summary>
    public static bool IsZone(string zone) => ZoneShape().IsMatch(zone);

    /// <summary>Whether <paramref name="type"/> is an accelerator type SpotJax accepts.</summary>
    public static bool IsTpuType(string type)
    {
        var match = TpuTypeShape().Match(type);
        if (!match.Success || !int.TryParse(match.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            return false;
        }

        return match.Groups[1].Value switch
        {
            "v2" or "v3" => IsPowerOfTwoSlice(size, 2048),
            "v4" => IsPowerOfTwoSlice(size, 8192),
            "v5p" => IsPowerOfTwoSlice(size, 16384),
            _ => SliceSizes.Contains(size),
        };
    }

    private static bool IsPowerOfTwoSlice(int size, int max) => size >= 8 && size <= max && int.IsPow2(size);

    private JobSpec? Spec(JsonObject root)
    {
        var errorsBefore = _errors.Count;
        CheckFields(root, "", JobFields.TopLevel);

        var name = Name(root);
        var tpu = Tpu(root);
        var code = Require(root, JobFields.Code, JobFields.Code, "gs://BUCKET[/path] of the code tarball or prefix", out var codeNode)
            ? Location(codeNode, JobFields.Code)
            : null;
        var script = Require(root, JobFields.Script, JobFields.Script, "the script's path inside the code, such as train.py", out var scriptNode)
            ? Script(scriptNode)
            : null;
        var args = Args(root);
        var env = Env(root);
        var maxRetries = Integer(root, JobFields.MaxRetries, JobFields.MaxRetries, 0, 1000, Defaults.MaxRetries);
        var maxPreemptions = Integer(root, JobFields.MaxPreemptions, JobFields.MaxPreemptions, 0, 10000, Defaults.MaxPreemptions);
        var stall = Stall(root);
        var provisionTimeout = Integer(root, JobFields.ProvisionTimeoutMinutes, JobFields.ProvisionTimeoutMinutes, 1, 10080, Defaults.ProvisionTimeoutMinutes);
        var checkpointDir = root.TryGetPropertyValue(JobFields.CheckpointDir, out var ckptNode) ? Location(ckptNode, JobFields.CheckpointDir) : null;
        var logDir = root.TryGetPropertyValue(JobFields.LogDir, out var logNode) ? Location(logNode, JobFields.LogDir) : null;
        var prepareTimeout = Integer(root, JobFields.PrepareTimeoutMinutes, JobFields.PrepareTimeoutMinutes, 1, 1440, Defaults.PrepareTimeoutMinutes);
        var python = Python(root);
        var extraIndexUrls = ExtraIndexUrls(root);
        var pipArgs = PipArgs(root);
        var secretEnv = SecretEnv(root, env);
        var slices = Integer(root, JobFields.Slices, JobFields.Slices, 1, MaxSlices, Defaults.Slices);
        var maxCostUsd = MaxCostUsd(root);
        var notify = Notify(root);

        if (_errors.Count > errorsBefore || name is null || tpu is null || code is null || script is null)
        {
            return null;
        }

        return new JobSpec
        {
            Name = name,
            Tpu = tpu,
            Code = code,
            Script = script,
            Args = args.AsReadOnly(),
            Env = env.AsReadOnly(),
            MaxRetries = maxRetries,
            MaxPreemptions = maxPreemptions,
            Stall = stall,
            ProvisionTimeoutMinutes = provisionTimeout,
            CheckpointDir = checkpointDir,
            LogDir = logDir,
            PrepareTimeoutMinutes = prepareTimeout,
            Python = python,
            ExtraIndexUrls = extraIndexUrls.AsReadOnly(),
            PipArgs = pipArgs.AsReadOnly(),
            SecretEnv = secretEnv.AsReadOnly(),
            Slices = slices,
            MaxCostUsd = maxCostUsd,
            Notify = notify,
        };
    }

    /// <summary>A positive number of US dollars, at most a million; absent means no limit.</summary>
    private decimal? MaxCostUsd(JsonObject root)
    {
        const string field = JobFields.MaxCostUsd;
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return null;
        }

        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
            && decimal.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var usd)
            && usd > 0 && usd <= MaxCostUsdLimit)
        {
            return usd;
        }

        _errors.Add(new(field, $"must be a positive number of US dollars up to {MaxCostUsdLimit.ToString(CultureInfo.InvariantCulture)}, such as 25 or 12.5, got {Describe(node)}"));
        return null;
    }

    private string Python(JsonObject root)
    {
        const string field = JobFields.Python;
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return Defaults.Python;
        }

        // Only a string: YAML reads an unquoted 3.10 as the number 3.1, a different version.
        if (node is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
        {
            return Fail(field, $"must be a string such as \"3.12\", got the number {Describe(node)}; quote it (in YAML 3.10 reads as 3.1)") ?? Defaults.Python;
        }

        if (String(node, field) is not { } version)
        {
            return Defaults.Python;
        }

        return PythonVersion().IsMatch(version)
            ? version
            : Fail(field, $"{Quote(version)} is not a Python version: 3.N or 3.N.M, such as 3.12 (quote it in YAML)") ?? Defaults.Python;
    }

    private List<string> ExtraIndexUrls(JsonObject root)
    {
        var urls = StringList(root, JobFields.ExtraIndexUrls, MaxIndexUrls, MaxIndexUrlLength);
        for (var i = 0; i < urls.Count; i++)
        {
            var url = urls[i];
            var itemField = $"{JobFields.ExtraIndexUrls}[{i}]";
            if (url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                Fail(itemField, "must not contain spaces or control characters");
            }
            else if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            {
                Fail(itemField, $"{Quote(url)} is not an http:// or https:// URL of a package index");
            }
        }

        return urls;
    }

    private List<string> PipArgs(JsonObject root)
    {
        var args = StringList(root, JobFields.PipArgs, MaxPipArgs, MaxPipArgLength);
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i].Length == 0 || HasControl(args[i]))
            {
                Fail($"{JobFields.PipArgs}[{i}]", "must be a non-empty argument without control characters or NUL");
            }
        }

        return args;
    }

    private List<string> StringList(JsonObject root, string field, int maxItems, int maxLength)
    {
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return [];
        }

        if (node is not JsonArray list || list.Count > maxItems)
        {
            Fail(field, $"must be a list of at most {maxItems} strings, got {Describe(node)}");
            return [];
        }

        var items = new List<string>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            var itemField = $"{field}[{i}]";
            if (String(list[i], itemField) is not { } item)
            {
                continue;
            }

            if (item.Length > maxLength)
            {
                Fail(itemField, $"is {item.Length} characters long; at most {maxLength} are allowed");
                continue;
            }

            items.Add(item);
        }

        return items;
    }

    /// <summary>Whether <paramref name="reference"/> names one Secret Manager secret version in the shape <c>secretEnv</c> accepts.</summary>
    public static bool IsSecretReference(string reference) => SecretReference().IsMatch(reference);

    private string? Name(JsonObject root)
    {
        const string field = JobFields.Name;
        if (!Require(root, field, field, "a human name for the job, 1 to 100 characters", out var node) || String(node, field) is not { } name)
        {
            return null;
        }

        var length = name.EnumerateRunes().Count();
        if (length is 0 or > MaxNameLength)
        {
            return Fail(field, $"must be 1 to {MaxNameLength} characters long, got {length}");
        }

        if (HasControl(name))
        {
            return Fail(field, "must not contain control characters (newlines, tabs, NUL, ...)");
        }

        return string.IsNullOrWhiteSpace(name) ? Fail(field, "must not be blank") : name;
    }

    private TpuSpec? Tpu(JsonObject root)
    {
        const string field = JobFields.Tpu;
        if (!Require(root, field, field, "an object with type and zone (or zones)", out var node))
        {
            return null;
        }

        if (node is not JsonObject tpu)
        {
            return Fail<TpuSpec>(field, $"must be an object with type and zone (or zones), got {Describe(node)}");
        }

        CheckFields(tpu, field, JobFields.TpuLevel);

        string? type = null;
        const string typeField = "tpu.type";
        if (Require(tpu, JobFields.TpuType, typeField, "the accelerator type, such as v4-8, v5p-32, v5litepod-16 or v6e-8", out var typeNode) && String(typeNode, typeField) is { } typeText)
        {
            type = IsTpuType(typeText) ? typeText : Fail(typeField, $"{Quote(typeText)} is not a supported TPU type; {TpuTypeRule}");
        }

        var zones = Zones(tpu);

        string? runtimeVersion = null;
        const string versionField = "tpu.runtimeVersion";
        if (tpu.TryGetPropertyValue(JobFields.TpuRuntimeVersion, out var versionNode) && String(versionNode, versionField) is { } version)
        {
            runtimeVersion = RuntimeVersionShape().IsMatch(version)
                ? version
                : Fail(versionField, $"{Quote(version)} is not a TPU runtime version: 1 to 63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (for example tpu-ubuntu2204-base)");
        }

        if (type is null || zones is null)
        {
            return null;
        }

        return new TpuSpec { Type = type, Zones = zones.AsReadOnly(), RuntimeVersion = runtimeVersion ?? TpuDefaults.RuntimeVersion(type) };
    }

    private List<string>? Zones(JsonObject tpu)
    {
        var hasZone = tpu.TryGetPropertyValue(JobFields.TpuZone, out var zoneNode);
        var hasZones = tpu.TryGetPropertyValue(JobFields.TpuZones, out var zonesNode);
        if (hasZone && hasZones)
        {
            return Fail<List<string>>("tpu.zones", "tpu.zone and tpu.zones are both set; set exactly one of them");
        }

        if (hasZone)
        {
            return Zone(zoneNode, "tpu.zone") is { } zone ? [zone] : null;
        }

        if (!hasZones)
        {
            return Fail<List<string>>("tpu.zone", "is required: set tpu.zone to one zone (such as us-central2-b) or tpu.zones to a list of zones in fail-over order");
        }

        if (zonesNode is not JsonArray list || list.Count is 0 or > MaxZones)
        {
            return Fail<List<string>>("tpu.zones", $"must be a list of 1 to {MaxZones} zones, got {Describe(zonesNode)}");
        }

        var zones = new List<string>(list.Count);
        var valid = true;
        for (var i = 0; i < list.Count; i++)
        {
            var field = $"tpu.zones[{i}]";
            var zone = Zone(list[i], field);
            if (zone is null)
            {
                valid = false;
            }
            else if (zones.IndexOf(zone) is var first and >= 0)
            {
                valid = false;
                Fail(field, $"{Quote(zone)} repeats tpu.zones[{first}]; list each zone once");
            }

            zones.Add(zone ?? "");
        }

        return valid ? zones : null;
    }

    private string? Zone(JsonNode? node, string field)
    {
        if (String(node, field) is not { } zone)
        {
            return null;
        }

        return IsZone(zone)
            ? zone
            : Fail(field, $"{Quote(zone)} is not a zone; {ZoneRule}");
    }

    private string? Script(JsonNode? node)
    {
        const string field = JobFields.Script;
        if (String(node, field) is not { } script)
        {
            return null;
        }

        var problem = script switch
        {
            "" => "must not be empty",
            { Length: > MaxScriptLength } => $"must be at most {MaxScriptLength} characters",
            _ when HasControl(script) => "must not contain control characters or NUL",
            _ when script.StartsWith('/') => $"{Quote(script)} is absolute; give a path relative to the code root, such as train.py",
            _ when script.StartsWith('~') => $"{Quote(script)} starts with '~'; give a path relative to the code root, such as train.py",
            _ when script.Contains('\\', StringComparison.Ordinal) => $"{Quote(script)} contains a backslash; separate directories with '/'",
            _ when script.Split('/').Contains("..") => $"{Quote(script)} contains a '..' segment; the script must be inside the code",
            _ => null,
        };
        return problem is null ? script : Fail(field, problem);
    }

    private List<string> Args(JsonObject root)
    {
        const string field = JobFields.Args;
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return [];
        }

        if (node is not JsonArray list)
        {
            Fail(field, $"must be a list of strings, got {Describe(node)}");
            return [];
        }

        if (list.Count > MaxArgs)
        {
            Fail(field, $"has {list.Count} items; at most {MaxArgs} are allowed");
            return [];
        }

        var args = new List<string>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            var itemField = $"args[{i}]";
            if (Text(list[i], itemField) is not { } arg)
            {
                continue;
            }

            if (arg.Length > MaxArgLength)
            {
                Fail(itemField, $"is {arg.Length} characters long; at most {MaxArgLength} are allowed");
            }
            else if (arg.Contains('\0', StringComparison.Ordinal))
            {
                Fail(itemField, "must not contain NUL");
            }

            args.Add(arg);
        }

        return args;
    }

    private Dictionary<string, string> Env(JsonObject root)
    {
        const string field = JobFields.Env;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return env;
        }

        if (node is not JsonObject map)
        {
            Fail(field, $"must be a mapping of variable names to values, got {Describe(node)}");
            return env;
        }

        if (map.Count > MaxEnvEntries)
        {
            Fail(field, $"has {map.Count} variables; at most {MaxEnvEntries} are allowed");
            return env;
        }

        foreach (var (name, valueNode) in map)
        {
            var entryField = $"env.{Printable(name)}";
            if (name.Length > MaxEnvNameLength || !EnvName().IsMatch(name))
            {
                Fail(entryField, $"is not a valid variable name: 1 to {MaxEnvNameLength} characters of A-Z, 0-9, '_', not starting with a digit");
            }
            else if (name.StartsWith("SPOT_", StringComparison.Ordinal) || name == "JAX_COORDINATOR_ADDRESS")
            {
                Fail(entryField, "is reserved: SpotJax sets SPOT_* and JAX_COORDINATOR_ADDRESS itself");
            }

            if (Text(valueNode, entryField) is not { } value)
            {
                continue;
            }

            if (value.Contains('\0', StringComparison.Ordinal))
            {
                Fail(entryField, "value must not contain NUL");
            }
            else if (Encoding.UTF8.GetByteCount(value) > MaxEnvValueBytes)
            {
                Fail(entryField, "value is larger than 32 KiB; pass large data in a file inside the code instead");
            }

            env[name] = value;
        }

        return env;
    }

    private Dictionary<string, string> SecretEnv(JsonObject root, Dictionary<string, string> env)
    {
        const string field = JobFields.SecretEnv;
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return secrets;
        }

        if (node is not JsonObject map)
        {
            Fail(field, $"must be a mapping of variable names to secret versions (projects/P/secrets/S/versions/V), got {Describe(node)}");
            return secrets;
        }

        if (map.Count > MaxSecretEntries)
        {
            Fail(field, $"has {map.Count} variables; at most {MaxSecretEntries} are allowed");
            return secrets;
        }

        foreach (var (name, referenceNode) in map)
        {
            var entryField = $"secretEnv.{Printable(name)}";
            if (name.Length > MaxEnvNameLength || !EnvName().IsMatch(name))
            {
                Fail(entryField, $"is not a valid variable name: 1 to {MaxEnvNameLength} characters of A-Z, 0-9, '_', not starting with a digit");
            }
            else if (name.StartsWith("SPOT_", StringComparison.Ordinal) || name == "JAX_COORDINATOR_ADDRESS")
            {
                Fail(entryField, "is reserved: SpotJax sets SPOT_* and JAX_COORDINATOR_ADDRESS itself");
            }
            else if (env.ContainsKey(name))
            {
                Fail(entryField, "is also set in env; a variable comes either from env or from secretEnv, remove it from one of them");
            }

            // Never echoed: a value that is not a reference may well be the secret itself, pasted by mistake.
            if (referenceNode is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            {
                Fail(entryField, $"must be a secret version reference string; {SecretReferenceRule}");
                continue;
            }

            if (StringValue(value, entryField) is not { } reference)
            {
                continue;
            }

            if (!IsSecretReference(reference))
            {
                Fail(entryField, $"is not a secret version reference (the value is not shown, in case it is the secret itself); {SecretReferenceRule}");
                continue;
            }

            secrets[name] = reference;
        }

        return secrets;
    }

    private NotifySpec? Notify(JsonObject root)
    {
        const string field = JobFields.Notify;
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return null;
        }

        if (node is not JsonObject notify)
        {
            return Fail<NotifySpec>(field, $"must be an object with webhook and format, got {Describe(node)}");
        }

        CheckFields(notify, field, JobFields.NotifyLevel);
        const string webhookField = "notify.webhook";
        string? webhook = null;
        if (Require(notify, JobFields.NotifyWebhook, webhookField, "the https:// URL to post to", out var webhookNode) && String(webhookNode, webhookField) is { } url)
        {
            webhook = NotifySpec.Problem(url) is { } problem ? Fail(webhookField, problem) : url;
        }

        const string formatField = "notify.format";
        var format = NotifyFormat.Json;
        if (notify.TryGetPropertyValue(JobFields.NotifyFormat, out var formatNode) && String(formatNode, formatField) is { } text)
        {
            switch (text)
            {
                case "json":
                    format = NotifyFormat.Json;
                    break;
                case "slack":
                    format = NotifyFormat.Slack;
                    break;
                default:
                    Fail(formatField, $"{Quote(text)} is not a format; allowed: slack, json");
                    break;
            }
        }

        return webhook is null ? null : new NotifySpec(webhook, format);
    }

    private StallPolicy Stall(JsonObject root)
    {
        const string field = JobFields.Stall;
        var (minutes, action) = Defaults.Stall;
        if (!root.TryGetPropertyValue(field, out var node))
        {
            return Defaults.Stall;
        }

        if (node is not JsonObject stall)
        {
            Fail(field, $"must be an object with minutes and action, got {Describe(node)}");
            return Defaults.Stall;
        }

        CheckFields(stall, field, JobFields.StallLevel);
        minutes = Integer(stall, JobFields.StallMinutes, "stall.minutes", 1, 10080, minutes);

        const string actionField = "stall.action";
        if (stall.TryGetPropertyValue(JobFields.StallAction, out var actionNode) && String(actionNode, actionField) is { } text)
        {
            switch (text)
            {
                case "warn":
                    action = StallAction.Warn;
                    break;
                case "restart":
                    action = StallAction.Restart;
                    break;
                default:
                    Fail(actionField, $"{Quote(text)} is not an action; allowed: warn, restart");
                    break;
            }
        }

        return new(minutes, action);
    }

    private int Integer(JsonObject obj, string name, string field, int min, int max, int fallback)
    {
        if (!obj.TryGetPropertyValue(name, out var node))
        {
            return fallback;
        }

        // Parsing the JSON text accepts 1e2 and 5.0 as integers, exactly as JSON Schema's "integer" does.
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
            && decimal.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && number == decimal.Truncate(number) && number >= min && number <= max)
        {
            return (int)number;
        }

        Fail(field, $"must be an integer from {min} to {max}, got {Describe(node)}");
        return fallback;
    }

    private string? Location(JsonNode? node, string field)
    {
        if (String(node, field) is not { } location)
        {
            return null;
        }

        if (location.Length == 0)
        {
            return Fail(field, "must not be empty");
        }

        if (HasControl(location))
        {
            return Fail(field, "must not contain control characters");
        }

        if (location.StartsWith(GsPrefix, StringComparison.Ordinal))
        {
            return GsUri(location, field);
        }

        var scheme = UriScheme().Match(location);
        if (!_options.AllowLocalCode)
        {
            var what = scheme.Success ? $"{Quote(location)} is not a gs:// URI" : $"{Quote(location)} is a local path";
            return Fail(field, $"{what}; only gs://BUCKET[/path] is accepted on Google Cloud (local paths work only in local mode)");
        }

        if (scheme.Success && !scheme.Groups[1].Value.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            return Fail(field, $"{Quote(location)} has an unsupported scheme; use gs://BUCKET[/path] or a local path");
        }

        try
        {
            var path = scheme.Success ? new Uri(location).LocalPath : location;
            var baseDirectory = Path.GetFullPath(_options.BaseDirectory ?? Directory.GetCurrentDirectory());
            return Path.GetFullPath(path, baseDirectory);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or NotSupportedException or PathTooLongException)
        {
            return Fail(field, $"{Quote(location)} is not a usable local path: {e.Message}");
        }
    }

    private string? GsUri(string uri, string field)
    {
        var rest = uri[GsPrefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        if (!BucketName().IsMatch(bucket))
        {
            return Fail(field, $"{Quote(bucket)} is not a bucket name: 3 to 63 characters of a-z, 0-9, '.', '_', '-', starting and ending with a letter or digit");
        }

        return slash >= 0 && Encoding.UTF8.GetByteCount(rest.AsSpan(slash + 1)) > MaxObjectNameBytes
            ? Fail(field, $"the object path is longer than {MaxObjectNameBytes} bytes")
            : uri;
    }

    private void CheckFields(JsonObject obj, string path, IReadOnlyList<string> allowed)
    {
        foreach (var (name, _) in obj)
        {
            if (allowed.Contains(name))
            {
                continue;
            }

            var field = path.Length == 0 ? Printable(name) : $"{path}.{Printable(name)}";
            var suggestion = Nearest(allowed, name) is { } near ? $" (did you mean '{near}'?)" : "";
            Fail(field, $"unknown field {Quote(name)}{suggestion}; allowed: {string.Join(", ", allowed)}");
        }
    }

    private bool Require(JsonObject obj, string name, string field, string hint, out JsonNode? node)
    {
        if (obj.TryGetPropertyValue(name, out node))
        {
            return true;
        }

        Fail(field, $"is required: {hint}");
        return false;
    }

    private string? String(JsonNode? node, string field) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? StringValue(value, field)
            : Fail(field, $"must be a string, got {Describe(node)}");

    private string? StringValue(JsonValue value, string field)
    {
        try
        {
            return value.GetValue<string>();
        }
        catch (InvalidOperationException)
        {
            // A JSON escape such as \ud800 decodes to an unpaired surrogate, which is not text.
            return Fail(field, "contains an escaped unpaired UTF-16 surrogate; the text is not valid Unicode");
        }
    }

    // Where the value ends up as process text (args, env), numbers and booleans are taken as written.
    private string? Text(JsonNode? node, string field) =>
        node is JsonValue value
            ? value.GetValueKind() switch
            {
                JsonValueKind.String => StringValue(value, field),
                JsonValueKind.Number => value.ToJsonString(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => Fail(field, $"must be a string, got {Describe(node)}"),
            }
            : Fail(field, $"must be a string (numbers and booleans are taken as text), got {Describe(node)}");

    private string? Fail(string field, string message) => Fail<string>(field, message);

    private T? Fail<T>(string field, string message)
        where T : class
    {
        _errors.Add(new(field, message));
        return null;
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray array => $"a list of {array.Count}",
        JsonValue value when value.GetValueKind() == JsonValueKind.String => $"the string {Printable(value.ToJsonString())}",
        _ => Printable(node.ToJsonString()),
    };

    private static bool HasControl(string text) => text.Any(char.IsControl);

    private static string Quote(string text) => $"'{Printable(text)}'";

    // Messages end up in terminals and logs: no raw control characters, no megabyte echoes.
    private static string Printable(string text)
    {
        const int maxShown = 80;
        var shown = text.Length > maxShown ? text[..maxShown] : text;
        var builder = new StringBuilder(shown.Length + 8);
        foreach (var c in shown)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }

        return text.Length > maxShown ? builder.Append("...").ToString() : builder.ToString();
    }

    // A typo costs about one edit per three letters (maxRetry -> maxRetries is three).
    private static string? Nearest(IReadOnlyList<string> allowed, string given) =>
        allowed
            .Select(a => (Name: a, Distance: EditDistance(a.ToUpperInvariant(), given.ToUpperInvariant())))
            .Where(c => c.Distance <= Math.Max(2, c.Name.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Name)
            .FirstOrDefault();

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            previous = current;
        }

        return previous[b.Length];
    }

    // \z, not $: in .NET '$' also matches before a final newline, which would let "us-central2-b\n" through.
    [GeneratedRegex(@"^(v2|v3|v4|v5p|v5litepod|v6e)-([1-9][0-9]{0,5})\z", RegexOptions.CultureInvariant)]
    private static partial Regex TpuTypeShape();

    [GeneratedRegex(@"^[a-z]+-[a-z]+[0-9]+-[a-z]\z", RegexOptions.CultureInvariant)]
    private static partial Regex ZoneShape();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex RuntimeVersionShape();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]\z", RegexOptions.CultureInvariant)]
    private static partial Regex BucketName();

    [GeneratedRegex(@"^[A-Z_][A-Z0-9_]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex EnvName();

    [GeneratedRegex(@"^3\.[0-9]{1,2}(\.[0-9]{1,3})?\z", RegexOptions.CultureInvariant)]
    private static partial Regex PythonVersion();
    // Secret Manager's rules: project id or number, secret id [A-Za-z0-9_-]{1,255}, version number or latest.
    [GeneratedRegex(@"^projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[1-9][0-9]{0,19})/secrets/[A-Za-z0-9_-]{1,255}/versions/(?:[1-9][0-9]{0,18}|latest)\z", RegexOptions.CultureInvariant)]
    private static partial Regex SecretReference();

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]*)://", RegexOptions.CultureInvariant)]
    private static partial Regex UriScheme();
}
