using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

/// <summary><c>secretEnv</c>: variables named by Secret Manager references, never by value.</summary>
public sealed class SecretEnvTests
{
    private const string Wandb = "projects/my-project/secrets/spotjax-job-wandb/versions/latest";

    private static readonly JsonObject SchemaProperty = LoadSchemaProperty();

    [Fact]
    public void Parse_SecretEnvInJsonAndYaml_KeepsTheReferences()
    {
        var fromJson = JobDocument.Parse(Json($$$"""{"secretEnv": {"WANDB_API_KEY": "{{{Wandb}}}", "HF_TOKEN": "projects/123456789012/secrets/hf_token-1/versions/7"}}"""));
        var fromYaml = JobDocument.Parse(
            $"name: r\ntpu: {{type: v4-8, zone: us-central2-b}}\ncode: gs://my-bucket/c\nscript: t.py\nsecretEnv:\n  WANDB_API_KEY: {Wandb}\n  HF_TOKEN: projects/123456789012/secrets/hf_token-1/versions/7\n");

        foreach (var spec in new[] { fromJson, fromYaml })
        {
            Assert.Equal(Wandb, spec.SecretEnv["WANDB_API_KEY"]);
            Assert.Equal("projects/123456789012/secrets/hf_token-1/versions/7", spec.SecretEnv["HF_TOKEN"]);
            Assert.Empty(spec.Env);
        }
    }

    [Fact]
    public void ToJson_SecretEnv_WritesSortedReferencesThatReadBackEqual()
    {
        var spec = JobDocument.Parse(Json($$$"""{"secretEnv": {"WANDB_API_KEY": "{{{Wandb}}}", "A_TOKEN": "projects/my-project/secrets/a/versions/1"}}"""));

        var json = JobDocument.ToJson(spec);

        Assert.True(json.IndexOf("\"A_TOKEN\"", StringComparison.Ordinal) < json.IndexOf("\"WANDB_API_KEY\"", StringComparison.Ordinal));
        Assert.Equal(spec.SecretEnv, JobDocument.Parse(json).SecretEnv);
        Assert.Empty(JobDocument.Parse(MinimalJson).SecretEnv);
    }

    [Theory]
    [InlineData("projects/my-project/secrets/s/versions/latest")]
    [InlineData("projects/my-project/secrets/s/versions/1")]
    [InlineData("projects/a23456/secrets/S_-9/versions/123456789")]
    [InlineData("projects/123/secrets/s/versions/2")]
    public void Parse_ValidReference_IsAccepted(string reference)
    {
        Assert.Equal(reference, JobDocument.Parse(WithSecret("TOKEN", reference)).SecretEnv["TOKEN"]);
        Assert.True(SchemaAccepts(reference));
    }

    public static TheoryData<string> InvalidReferences => new()
    {
        "hunter2",
        "sk-live-0123456789abcdef",
        "projects/my-project/secrets/s",
        "projects/my-project/secrets/s/versions/",
        "projects/my-project/secrets/s/versions/0",
        "projects/my-project/secrets/s/versions/01",
        "projects/my-project/secrets/s/versions/LATEST",
        "projects/my-project/secrets/s/versions/latest/",
        "projects/my-project/secrets/s/versions/latest:access",
        "projects/my-project/secrets/s/versions/latest\n",
        "projects/My-Project/secrets/s/versions/1",
        "projects/short/secrets/s/versions/1",
        "projects/my-project-/secrets/s/versions/1",
        "projects/my-project/secrets/a.b/versions/1",
        "projects/my-project/secrets/../versions/1",
        "projects/my-project/secrets/s/versions/1?alt=media",
        "projects/my-project/secrets/s%2Fx/versions/1",
        "projects/my-project/secrets/s/versions/1#x",
        "//evil.example/projects/my-project/secrets/s/versions/1",
        "https://secretmanager.googleapis.com/v1/projects/my-project/secrets/s/versions/1",
        " projects/my-project/secrets/s/versions/1",
        $"projects/my-project/secrets/{new string('s', 256)}/versions/1",
        "",
    };

    [Theory]
    [MemberData(nameof(InvalidReferences))]
    public void Parse_InvalidReference_IsRejectedWithoutEchoingTheValue(string reference)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(WithSecret("TOKEN", reference)));

        var problem = Assert.Single(error.Errors);
        Assert.Equal("secretEnv.TOKEN", problem.Field);
        Assert.Contains("projects/PROJECT/secrets/SECRET/versions/VERSION", problem.Message, StringComparison.Ordinal);
        if (reference.Length > 0)
        {
            Assert.DoesNotContain(reference, error.Message, StringComparison.Ordinal);
        }

        Assert.False(SchemaAccepts(reference));
    }

    [Theory]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("""{"ref": "x"}""")]
    [InlineData("""["projects/my-project/secrets/s/versions/1"]""")]
    public void Parse_ReferenceThatIsNotAString_IsRejected(string value)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json($$$"""{"secretEnv": {"TOKEN": {{{value}}}}}""")));

        Assert.Equal("secretEnv.TOKEN", Assert.Single(error.Errors).Field);
    }

    [Theory]
    [InlineData("SPOT_JOB_ID", "reserved")]
    [InlineData("JAX_COORDINATOR_ADDRESS", "reserved")]
    [InlineData("lower", "not a valid variable name")]
    [InlineData("1ST", "not a valid variable name")]
    [InlineData("A-B", "not a valid variable name")]
    [InlineData("A\nB", "not a valid variable name")]
    public void Parse_BadOrReservedName_IsRejected(string name, string expected)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(WithSecret(name, Wandb)));

        Assert.Contains(expected, Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NameAlsoInEnv_IsRejected()
    {
        var error = Assert.Throws<JobDocumentException>(
            () => JobDocument.Parse(Json($$$"""{"env": {"WANDB_API_KEY": "plain"}, "secretEnv": {"WANDB_API_KEY": "{{{Wandb}}}"}}""")));

        var problem = Assert.Single(error.Errors);
        Assert.Equal("secretEnv.WANDB_API_KEY", problem.Field);
        Assert.Contains("also set in env", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TooManySecrets_IsRejectedAtTheSchemaBound()
    {
        var max = (int)SchemaProperty["maxProperties"]!;
        JsonObject Secrets(int count) => new(Enumerable.Range(0, count).Select(i =>
            KeyValuePair.Create<string, JsonNode?>($"S{i}", $"projects/my-project/secrets/s{i}/versions/1")));

        Assert.Equal(max, JobDocument.Parse(Json(new JsonObject { ["secretEnv"] = Secrets(max) }.ToJsonString())).SecretEnv.Count);
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json(new JsonObject { ["secretEnv"] = Secrets(max + 1) }.ToJsonString())));
        Assert.Contains($"at most {max}", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"projects/my-project/secrets/s/versions/1\"")]
    [InlineData("[]")]
    public void Parse_SecretEnvThatIsNotAMapping_IsRejected(string value)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json($$$"""{"secretEnv": {{{value}}}}""")));

        Assert.Equal("secretEnv", Assert.Single(error.Errors).Field);
    }

    private static string WithSecret(string name, string reference) =>
        Json(new JsonObject { ["secretEnv"] = new JsonObject { [name] = reference } }.ToJsonString());

    // In JSON Schema (ECMA-262) '$' ends the text; in .NET it also matches before a final newline.
    private static bool SchemaAccepts(string reference) =>
        Regex.IsMatch(reference, ((string)SchemaProperty["additionalProperties"]!["pattern"]!).Replace("$", @"\z", StringComparison.Ordinal));

    private static JsonObject LoadSchemaProperty()
    {
        using var stream = typeof(JobDocument).Assembly.GetManifestResourceStream("job.schema.json")
            ?? throw new InvalidOperationException("job.schema.json is not embedded in SpotJax.Core");
        return JsonNode.Parse(stream)!["properties"]!["secretEnv"]!.AsObject();
    }
}
