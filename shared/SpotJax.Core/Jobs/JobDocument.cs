using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpotJax.Core.Jobs;

/// <summary>
/// Reads and writes the job document (JSON or YAML, one schema: <c>schema/job.schema.json</c>).
/// Both formats become the same JSON tree first, so they are validated by the same code.
/// </summary>
public static class JobDocument
{
    /// <summary>Largest accepted document, in UTF-8 bytes (256 KiB).</summary>
    public const int MaxDocumentBytes = 256 * 1024;

    private const string DocumentField = "document";

    private static readonly JsonDocumentOptions JsonReadOptions = new()
    {
        AllowDuplicateProperties = false,
        MaxDepth = 64,
    };

    private static readonly JsonWriterOptions JsonWriteOptions = new()
    {
        Indented = true,
        NewLine = "\n",

        // The canonical document is read by people and by SpotJax, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The fields allowed at the top level, in canonical order.</summary>
    public static IReadOnlyList<string> TopLevelFields => JobFields.TopLevel;

    /// <summary>The fields allowed inside <c>tpu</c>.</summary>
    public static IReadOnlyList<string> TpuFields => JobFields.TpuLevel;

    /// <summary>The fields allowed inside <c>stall</c>.</summary>
    public static IReadOnlyList<string> StallFields => JobFields.StallLevel;

    /// <summary>What a zone must look like, as the validator says it (<c>expected region-zone such as ...</c>).</summary>
    public const string ZoneRule = JobSpecValidator.ZoneRule;

    /// <summary>
    /// Whether <paramref name="zone"/> is a zone as <c>tpu.zone</c> accepts it (<c>us-central2-b</c>), so that
    /// settings naming zones outside a job document are held to the same rule.
    /// </summary>
    public static bool IsZone(string zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return JobSpecValidator.IsZone(zone);
    }

    /// <summary>
    /// Parses and validates a job document as it arrived (a file, a manifest object, a message body):
    /// the bytes are decoded by <see cref="JobDocumentEncoding"/>'s one rule, then read as <see cref="Parse(string, JobDocumentOptions)"/> does.
    /// </summary>
    /// <exception cref="JobDocumentException">The encoding problem, or every problem found, each naming its field.</exception>
    public static JobSpec Parse(ReadOnlySpan<byte> document, JobDocumentOptions? options = null)
    {
        // UTF-16 takes at most twice the bytes of UTF-8 (plus its mark): bound the work before decoding.
        if (document.Length > (2 * MaxDocumentBytes) + 2)
        {
            throw new JobDocumentException([new(DocumentField, $"is larger than the {MaxDocumentBytes / 1024} KiB limit")]);
        }

        return JobDocumentEncoding.TryDecode(document, out var text, out var problem)
            ? Parse(text, options)
            : throw new JobDocumentException([new(DocumentField, problem)]);
    }

    /// <summary>
    /// Parses and validates a job document: JSON when its first non-whitespace character is <c>{</c>,
    /// YAML otherwise. Defaults are applied, so <see cref="TpuSpec.RuntimeVersion"/> is always set.
    /// </summary>
    /// <exception cref="JobDocumentException">Every problem found, each naming its field.</exception>
    public static JobSpec Parse(string text, JobDocumentOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<JobDocumentError>();

        // UTF-8 never takes fewer bytes than UTF-16 code units, so the length check spares counting a huge string.
        if (text.Length > MaxDocumentBytes || Encoding.UTF8.GetByteCount(text) > MaxDocumentBytes)
        {
            errors.Add(new(DocumentField, $"is larger than the {MaxDocumentBytes / 1024} KiB limit"));
            throw new JobDocumentException(errors);
        }

        // An unpaired surrogate cannot be written back as UTF-8: the job store would fail on it, or silently alter it.
        if (HasUnpairedSurrogate(text))
        {
            errors.Add(new(DocumentField, "contains an unpaired UTF-16 surrogate; the text is not valid Unicode"));
            throw new JobDocumentException(errors);
        }

        var body = text.TrimStart('\uFEFF');
        var root = body.TrimStart().StartsWith('{') ? ReadJson(body, errors) : ReadYaml(body, errors);
        var spec = root is null ? null : JobSpecValidator.Validate(root, options ?? new JobDocumentOptions(), errors);
        return spec is not null && errors.Count == 0 ? spec : throw new JobDocumentException(errors);
    }

    /// <summary>
    /// The canonical JSON document for <paramref name="spec"/>: every field written, defaults included,
    /// zones always as <c>tpu.zones</c>, env and secretEnv sorted by name. <see cref="Parse"/> reads it back to an equal spec.
    /// </summary>
    public static string ToJson(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonWriteOptions))
        {
            writer.WriteStartObject();
            writer.WriteString(JobFields.Name, spec.Name);

            writer.WriteStartObject(JobFields.Tpu);
            writer.WriteString(JobFields.TpuType, spec.Tpu.Type);
            WriteStrings(writer, JobFields.TpuZones, spec.Tpu.Zones);
            if (spec.Tpu.RuntimeVersion is { } runtimeVersion)
            {
                writer.WriteString(JobFields.TpuRuntimeVersion, runtimeVersion);
            }

            writer.WriteEndObject();

            writer.WriteString(JobFields.Code, spec.Code);
            writer.WriteString(JobFields.Script, spec.Script);
            WriteStrings(writer, JobFields.Args, spec.Args);
            WriteSortedMap(writer, JobFields.Env, spec.Env);
            writer.WriteNumber(JobFields.MaxRetries, spec.MaxRetries);
            writer.WriteNumber(JobFields.MaxPreemptions, spec.MaxPreemptions);
            writer.WriteStartObject(JobFields.Stall);
            writer.WriteNumber(JobFields.StallMinutes, spec.Stall.Minutes);
            writer.WriteString(JobFields.StallAction, spec.Stall.Action switch
            {
                StallAction.Warn => "warn",
                StallAction.Restart => "restart",
                var other => throw new ArgumentOutOfRangeException(nameof(spec), other, "unknown stall action"),
            });
            writer.WriteEndObject();
            writer.WriteNumber(JobFields.ProvisionTimeoutMinutes, spec.ProvisionTimeoutMinutes);
            if (spec.CheckpointDir is { } checkpointDir)
            {
                writer.WriteString(JobFields.CheckpointDir, checkpointDir);
            }

            if (spec.LogDir is { } logDir)
            {
                writer.WriteString(JobFields.LogDir, logDir);
            }

            writer.WriteNumber(JobFields.PrepareTimeoutMinutes, spec.PrepareTimeoutMinutes);
            writer.WriteString(JobFields.Python, spec.Python);
            WriteStrings(writer, JobFields.ExtraIndexUrls, spec.ExtraIndexUrls);
            WriteStrings(writer, JobFields.PipArgs, spec.PipArgs);
            WriteSortedMap(writer, JobFields.SecretEnv, spec.SecretEnv);
            writer.WriteNumber(JobFields.Slices, spec.Slices);
            if (spec.MaxCostUsd is { } maxCostUsd)
            {
                writer.WriteNumber(JobFields.MaxCostUsd, maxCostUsd);
            }

            if (spec.Notify is { } notify)
            {
                writer.WriteStartObject(JobFields.Notify);
                writer.WriteString(JobFields.NotifyWebhook, notify.Webhook);
                writer.WriteString(JobFields.NotifyFormat, notify.Format == NotifyFormat.Slack ? "slack" : "json");
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteStrings(Utf8JsonWriter writer, string field, IEnumerable<string> values)
    {
        writer.WriteStartArray(field);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    /// <summary>A string map as a JSON object, sorted by name so that equal specs write equal documents.</summary>
    private static void WriteSortedMap(Utf8JsonWriter writer, string field, IReadOnlyDictionary<string, string> values)
    {
        writer.WriteStartObject(field);
        foreach (var (name, value) in values.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
    }

    private static JsonObject? ReadJson(string text, List<JobDocumentError> errors)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: JsonReadOptions);
        }
        catch (InvalidOperationException)
        {
            // Thrown instead of a JsonException when a property name holds an escaped unpaired surrogate.
            errors.Add(new(DocumentField, "invalid JSON: an escape sequence gives an unpaired UTF-16 surrogate"));
            return null;
        }
        catch (JsonException e)
        {
            // The reader appends its own "LineNumber: 0 | BytePositionInLine: 7." (zero-based); say it once, one-based.
            var message = e.Message;
            var position = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            message = position >= 0 ? message[..position] : message;
            var where = e.LineNumber is { } line ? $"line {line + 1}: " : "";
            errors.Add(new(DocumentField, $"{where}invalid JSON: {message}"));
            return null;
        }

        return AsObject(root, errors);
    }

    private static JsonObject? ReadYaml(string text, List<JobDocumentError> errors)
    {
        var root = YamlJsonReader.Read(text, errors, out var empty);
        if (empty)
        {
            errors.Add(new(DocumentField, "is empty; expected a job with name, tpu, code and script"));
            return null;
        }

        // Duplicate keys are reported but leave a tree behind, which is still validated for the other errors.
        return root is null && errors.Count > 0 ? null : AsObject(root, errors);
    }

    private static bool HasUnpairedSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static JsonObject? AsObject(JsonNode? root, List<JobDocumentError> errors)
    {
        if (root is JsonObject obj)
        {
            return obj;
        }

        var kind = root switch
        {
            null => "null",
            JsonArray => "a list",
            _ => "a single value",
        };
        errors.Add(new(DocumentField, $"must be an object (a mapping of fields such as name, tpu, code, script), got {kind}"));
        return null;
    }
}
