using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Events;

/// <summary>
/// The events the code produces against <c>schema/job-event.schema.json</c>. The check covers the
/// keywords that schema uses (type, required, additionalProperties, const, enum, pattern, minimum,
/// date-time), so a keyword added to the schema must be added here.
/// </summary>
public sealed class JobEventSchemaTests
{
    private static readonly JsonObject Schema = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "schema", "job-event.schema.json")))!.AsObject();
    private static readonly DateTimeOffset At = new(2026, 12, 6, 1, 2, 3, TimeSpan.Zero);

    public static TheoryData<string?, string, string, string> Transitions => new()
    {
        { null, "QUEUED", "submitted", JobEventTypes.State },
        { "RUNNING", "RECOVERING", "preempted: maintenance event; last output line: <boom>", JobEventTypes.Preempted },
        { "RUNNING", "RECOVERING", "script failed: exit 3", JobEventTypes.State },
        { "RUNNING", "RUNNING", "stalled: no checkpoint for 60 min", JobEventTypes.StallWarning },
        { "RUNNING", "SUCCEEDED", "script exited 0", JobEventTypes.State },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Of_EveryKindOfTransition_IsValidAgainstTheSchemaWithItsType(string? from, string to, string cause, string type)
    {
        var job = new Job { Id = "train-7f3a", Submission = "pubsub:1", Deployment = "staging", State = JobStateExtensions.ParseWire(to), SubmittedAt = At, UpdatedAt = At };
        var entry = new HistoryEntry(At, from is null ? null : JobStateExtensions.ParseWire(from), JobStateExtensions.ParseWire(to), 2, cause);

        var jobEvent = JobEvent.Of(job, 5, entry);
        var json = JsonNode.Parse(jobEvent.ToBytes())!.AsObject();

        Assert.Empty(Problems(json));
        Assert.Equal((type, "train-7f3a/5"), ((string)json["type"]!, (string)json["id"]!));
        Assert.Equal(jobEvent, JobEvent.Parse(jobEvent.ToBytes()));
    }

    [Fact]
    public void Problems_BrokenEvents_AreFound()
    {
        var valid = JsonNode.Parse(JobEvent.Of(new Job { Id = "j", Submission = "s", State = JobState.Queued, SubmittedAt = At, UpdatedAt = At }, 1, new HistoryEntry(At, null, JobState.Queued, 0, "submitted")).ToBytes())!.AsObject();

        Assert.Empty(Problems(valid));
        Assert.NotEmpty(Problems(With(valid, "specversion", "spotjax.job-event/v2")));
        Assert.NotEmpty(Problems(With(valid, "id", "j")));
        Assert.NotEmpty(Problems(With(valid, "type", "other")));
        Assert.NotEmpty(Problems(With(valid, "attempt", -1)));
        Assert.NotEmpty(Problems(With(valid, "at", "yesterday")));
        Assert.NotEmpty(Problems(With(valid, "extra", "x")));
    }

    private static JsonObject With(JsonObject json, string name, JsonNode value)
    {
        var copy = json.DeepClone().AsObject();
        copy[name] = value;
        return copy;
    }

    private static List<string> Problems(JsonObject json)
    {
        var problems = new List<string>();
        var properties = Schema["properties"]!.AsObject();
        problems.AddRange(Schema["required"]!.AsArray().Select(r => (string)r!).Where(r => !json.ContainsKey(r)).Select(r => $"{r} missing"));
        foreach (var (name, value) in json)
        {
            if (properties[name] is not JsonObject rule)
            {
                problems.Add($"{name} not in the schema");
                continue;
            }

            if (rule["const"] is { } constant && !JsonNode.DeepEquals(constant, value))
            {
                problems.Add($"{name} is not {constant}");
            }

            if (rule["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
            {
                problems.Add($"{name} not in its enum");
            }

            switch ((string?)rule["type"])
            {
                case "string" when value?.GetValueKind() != System.Text.Json.JsonValueKind.String:
                case "integer" when value?.GetValueKind() != System.Text.Json.JsonValueKind.Number || !long.TryParse(value.ToJsonString(), CultureInfo.InvariantCulture, out _):
                    problems.Add($"{name} is not a {(string?)rule["type"]}");
                    continue;
            }

            if (rule["pattern"] is { } pattern && !Regex.IsMatch((string)value!, (string)pattern!))
            {
                problems.Add($"{name} does not match {pattern}");
            }

            if (rule["minimum"] is { } minimum && long.Parse(value!.ToJsonString(), CultureInfo.InvariantCulture) < long.Parse(minimum.ToJsonString(), CultureInfo.InvariantCulture))
            {
                problems.Add($"{name} is below {minimum}");
            }

            if ((string?)rule["format"] == "date-time" && !DateTimeOffset.TryParseExact((string)value!, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            {
                problems.Add($"{name} is not an RFC 3339 date-time");
            }
        }

        return problems;
    }

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "SpotJax.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("SpotJax.sln not found above the test folder");
    }
}
