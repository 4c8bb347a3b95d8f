using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

/// <summary>The published schema and the parser must describe the same document.</summary>
public sealed class JobDocumentSchemaTests
{
    private static readonly JsonObject Schema = LoadSchema();
    private static readonly JsonObject Properties = Schema["properties"]!.AsObject();
    private static readonly JsonObject TpuProperties = Properties["tpu"]!["properties"]!.AsObject();
    private static readonly JsonObject StallProperties = Properties["stall"]!["properties"]!.AsObject();

    [Fact]
    public void Schema_Header_IsDraft202012AndClosed()
    {
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)Schema["$schema"]);
        Assert.False((bool)Schema["additionalProperties"]!);
        Assert.False((bool)Properties["tpu"]!["additionalProperties"]!);
        Assert.False((bool)Properties["stall"]!["additionalProperties"]!);
    }

    [Fact]
    public void Schema_PropertyNames_AreTheFieldsTheParserAccepts()
    {
        Assert.Equal(JobDocument.TopLevelFields, Properties.Select(p => p.Key));
        Assert.Equal(JobDocument.TpuFields, TpuProperties.Select(p => p.Key));
        Assert.Equal(JobDocument.StallFields, StallProperties.Select(p => p.Key));
    }

    [Fact]
    public void Schema_Required_IsWhatTheParserRequires()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse("{}"));

        Assert.Equal(
            Schema["required"]!.AsArray().Select(r => (string)r!).Order(StringComparer.Ordinal),
            error.Errors.Select(e => e.Field).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Schema_Defaults_EqualJobSpecDefaults()
    {
        var spec = new JobSpec { Name = "n", Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"] }, Code = "gs://b-1", Script = "s.py" };

        Assert.Equal(spec.MaxRetries, (int)Properties["maxRetries"]!["default"]!);
        Assert.Equal(spec.MaxPreemptions, (int)Properties["maxPreemptions"]!["default"]!);
        Assert.Equal(spec.ProvisionTimeoutMinutes, (int)Properties["provisionTimeoutMinutes"]!["default"]!);
        Assert.Equal(spec.Stall.Minutes, (int)StallProperties["minutes"]!["default"]!);
        Assert.Equal(spec.Stall.Action.ToString().ToLowerInvariant(), (string?)StallProperties["action"]!["default"]);
        Assert.Empty(Properties["args"]!["default"]!.AsArray());
        Assert.Empty(Properties["env"]!["default"]!.AsObject());
    }

    [Fact]
    public void Schema_Defaults_EqualWhatParseApplies()
    {
        var canonical = JsonNode.Parse(JobDocument.ToJson(JobDocument.Parse(MinimalJson)))!;

        foreach (var field in new[] { "maxRetries", "maxPreemptions", "provisionTimeoutMinutes", "slices" })
        {
            Assert.True(JsonNode.DeepEquals(Properties[field]!["default"], canonical[field]), field);
        }

        Assert.True(JsonNode.DeepEquals(StallProperties["minutes"]!["default"], canonical["stall"]!["minutes"]));
        Assert.True(JsonNode.DeepEquals(StallProperties["action"]!["default"], canonical["stall"]!["action"]));
    }

    [Theory]
    [InlineData("maxRetries")]
    [InlineData("maxPreemptions")]
    [InlineData("provisionTimeoutMinutes")]
    [InlineData("slices")]
    [InlineData("stall.minutes")]
    public void Schema_IntegerBounds_AreTheParserBounds(string field)
    {
        var property = field == "stall.minutes" ? StallProperties["minutes"]! : Properties[field]!;
        var (min, max) = ((int)property["minimum"]!, (int)property["maximum"]!);

        Assert.Equal("integer", (string?)property["type"]);
        Assert.True(ParserAccepts(WithInteger(field, min), field));
        Assert.True(ParserAccepts(WithInteger(field, max), field));
        Assert.False(ParserAccepts(WithInteger(field, min - 1), field));
        Assert.False(ParserAccepts(WithInteger(field, max + 1), field));
    }

    [Fact]
    public void Schema_StallActions_AreTheParserActions()
    {
        var actions = StallProperties["action"]!["enum"]!.AsArray().Select(a => (string)a!).ToList();

        Assert.Equal(["warn", "restart"], actions);
        Assert.All(actions, a => JobDocument.Parse(Json($$$"""{"stall": {"action": "{{{a}}}"}}""")));
    }

    [Theory]
    [InlineData("v2-8")]
    [InlineData("v2-2048")]
    [InlineData("v2-4096")]
    [InlineData("v3-32")]
    [InlineData("v3-12")]
    [InlineData("v4-8")]
    [InlineData("v4-4")]
    [InlineData("v4-12")]
    [InlineData("v4-8192")]
    [InlineData("v4-16384")]
    [InlineData("v5p-16384")]
    [InlineData("v5p-32768")]
    [InlineData("v5litepod-1")]
    [InlineData("v5litepod-2")]
    [InlineData("v5litepod-256")]
    [InlineData("v5litepod-512")]
    [InlineData("v6e-4")]
    [InlineData("v6e-8")]
    [InlineData("v6e-6")]
    [InlineData("v4-08")]
    [InlineData("v4-")]
    [InlineData("v4")]
    [InlineData("V4-8")]
    [InlineData("v5e-8")]
    [InlineData("v4-8x")]
    [InlineData("")]
    public void Schema_TpuTypePattern_AgreesWithParser(string type)
    {
        var document = Json($$$"""{"tpu": {"type": "{{{type}}}"}}""");
        Assert.Equal(SchemaAccepts(TpuProperties["type"]!, type), ParserAccepts(document, "tpu.type"));
    }

    [Theory]
    [InlineData("resnet")]
    [InlineData("llama 3 (8B) pretrain — run #2")]
    [InlineData("日本語のジョブ")]
    [InlineData(" ")]
    [InlineData("")]
    [InlineData("tab\tinside")]
    [InlineData("bell\u0007")]
    [InlineData("c1 control \u0085")]
    public void Schema_NamePattern_AgreesWithParser(string name)
    {
        var document = Json(new JsonObject { ["name"] = name }.ToJsonString());
        Assert.Equal(SchemaAccepts(Properties["name"]!, name), ParserAccepts(document, "name"));
    }

    [Fact]
    public void Schema_NameLength_AgreesWithParser()
    {
        foreach (var length in new[] { 100, 101 })
        {
            var name = new string('n', length);
            var document = Json(new JsonObject { ["name"] = name }.ToJsonString());
            Assert.Equal(SchemaAccepts(Properties["name"]!, name), ParserAccepts(document, "name"));
        }
    }

    [Theory]
    [InlineData("us-central2-b")]
    [InlineData("europe-west4-a")]
    [InlineData("northamerica-northeast1-c")]
    [InlineData("us-central2")]
    [InlineData("us-central-b")]
    [InlineData("US-central2-b")]
    [InlineData("us-central2-bb")]
    [InlineData("us_central2-b")]
    [InlineData("")]
    public void Schema_ZonePattern_AgreesWithParser(string zone)
    {
        var single = Json($$$"""{"tpu": {"zone": "{{{zone}}}"}}""");
        var list = Json($$$"""{"tpu": {"zone": "{{{Delete}}}", "zones": ["{{{zone}}}"]}}""");

        Assert.Equal(SchemaAccepts(TpuProperties["zone"]!, zone), ParserAccepts(single, "tpu.zone"));
        Assert.Equal(SchemaAccepts(TpuProperties["zones"]!["items"]!, zone), ParserAccepts(list, "tpu.zones[0]"));
    }

    [Theory]
    [InlineData("train.py")]
    [InlineData("scripts/train.py")]
    [InlineData("a/..b/c..")]
    [InlineData("./train.py")]
    [InlineData("../x.py")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("a/..")]
    [InlineData("~/x.py")]
    [InlineData("a\\b.py")]
    [InlineData("tab\there")]
    [InlineData("")]
    public void Schema_ScriptPattern_AgreesWithParser(string script)
    {
        var document = Json(new JsonObject { ["script"] = script }.ToJsonString());
        Assert.Equal(SchemaAccepts(Properties["script"]!, script), ParserAccepts(document, "script"));
    }

    [Theory]
    [InlineData("gs://my-bucket")]
    [InlineData("gs://my.bucket_1/code.tar.gz")]
    [InlineData("gs://ab/code")]
    [InlineData("gs://AB/code")]
    [InlineData("gs://-bucket/code")]
    [InlineData("gs:/bucket")]
    [InlineData("./src")]
    public void Schema_CodePattern_AgreesWithParserOnCloud(string code)
    {
        var document = Json(new JsonObject { ["code"] = code }.ToJsonString());
        Assert.Equal(SchemaAccepts(Properties["code"]!, code), ParserAccepts(document, "code"));
    }

    [Theory]
    [InlineData("XLA_FLAGS")]
    [InlineData("_PRIVATE")]
    [InlineData("my_var")]
    [InlineData("1ST")]
    [InlineData("SPOT_JOB_ID")]
    [InlineData("JAX_COORDINATOR_ADDRESS")]
    [InlineData("JAX_PLATFORMS")]
    public void Schema_EnvNames_AgreeWithParser(string name)
    {
        var names = Properties["env"]!["propertyNames"]!;
        var reserved = names["not"]!["anyOf"]!.AsArray();
        var schemaAccepts = SchemaAccepts(names, name)
            && !SchemaAccepts(reserved[0]!, name)
            && name != (string?)reserved[1]!["const"];

        var document = Json(new JsonObject { ["env"] = new JsonObject { [name] = "x" } }.ToJsonString());
        Assert.Equal(schemaAccepts, ParserAccepts(document, $"env.{name}"));
    }

    private static string WithInteger(string field, int value) =>
        field == "stall.minutes"
            ? Json($$$"""{"stall": {"minutes": {{{value}}}}}""")
            : Json($$$"""{"{{{field}}}": {{{value}}}}""");

    private static bool SchemaAccepts(JsonNode property, string value)
    {
        var length = value.EnumerateRunes().Count();
        return Regex.IsMatch(value, (string)property["pattern"]!)
            && length >= ((int?)property["minLength"] ?? 0)
            && length <= ((int?)property["maxLength"] ?? int.MaxValue);
    }

    private static bool ParserAccepts(string document, string field)
    {
        try
        {
            JobDocument.Parse(document);
            return true;
        }
        catch (JobDocumentException e)
        {
            Assert.All(e.Errors, error => Assert.Equal(field, error.Field));
            return false;
        }
    }

    private static JsonObject LoadSchema()
    {
        using var stream = typeof(JobDocument).Assembly.GetManifestResourceStream("job.schema.json")
            ?? throw new InvalidOperationException("job.schema.json is not embedded in SpotJax.Core");
        return JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false })!.AsObject();
    }
}
