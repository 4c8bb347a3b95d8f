using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

public sealed class JobDocumentTests
{
    private const string FullJson = """
        {
          "name": "llama pretrain",
          "tpu": {
            "type": "v5p-32",
            "zones": ["us-east5-a", "europe-west4-b"],
            "runtimeVersion": "v2-alpha-tpuv5"
          },
          "code": "gs://my-bucket/code/llama",
          "script": "scripts/train.py",
          "args": ["--steps", 100, true, 1.50, "--lr=3e-4"],
          "env": { "XLA_FLAGS": "--xla_dump_to=/tmp", "WANDB_MODE": "offline", "SEED": 7 },
          "maxRetries": 3,
          "maxPreemptions": 500,
          "stall": { "minutes": 90, "action": "restart" },
          "provisionTimeoutMinutes": 30,
          "checkpointDir": "gs://my-bucket/llama/ckpt",
          "logDir": "gs://my-bucket/llama/logs",
          "python": "3.11",
          "extraIndexUrls": ["https://download.pytorch.org/whl/cpu"],
          "pipArgs": ["--pre", "--no-deps"]
        }
        """;

    private const string FullYaml = """
        # the same job as FullJson
        name: llama pretrain
        tpu:
          type: v5p-32
          zones:
            - us-east5-a
            - europe-west4-b
          runtimeVersion: v2-alpha-tpuv5
        code: gs://my-bucket/code/llama
        script: scripts/train.py
        args: [--steps, 100, true, 1.50, "--lr=3e-4"]
        env:
          SEED: 7
          XLA_FLAGS: --xla_dump_to=/tmp
          WANDB_MODE: 'offline'
        maxRetries: 3
        maxPreemptions: 500
        stall: {minutes: 90, action: restart}
        provisionTimeoutMinutes: 30
        checkpointDir: gs://my-bucket/llama/ckpt
        logDir: gs://my-bucket/llama/logs
        python: "3.11"
        extraIndexUrls: [https://download.pytorch.org/whl/cpu]
        pipArgs: [--pre, --no-deps]
        """;

    private static readonly JobDocumentOptions Local = new() { AllowLocalCode = true, BaseDirectory = "/srv/jobs" };

    [Fact]
    public void Parse_SameJobInJsonAndYaml_GivesEqualSpec()
    {
        Assert.Equal(JobDocument.ToJson(JobDocument.Parse(FullJson)), JobDocument.ToJson(JobDocument.Parse(FullYaml)));
    }

    [Fact]
    public void Parse_FullDocument_ReadsEveryField()
    {
        var spec = JobDocument.Parse(FullYaml);

        Assert.Equal("llama pretrain", spec.Name);
        Assert.Equal("v5p-32", spec.Tpu.Type);
        Assert.Equal(["us-east5-a", "europe-west4-b"], spec.Tpu.Zones);
        Assert.Equal("gs://my-bucket/code/llama", spec.Code);
        Assert.Equal("scripts/train.py", spec.Script);
        Assert.Equal(["--steps", "100", "true", "1.50", "--lr=3e-4"], spec.Args);
        Assert.Equal("7", spec.Env["SEED"]);
        Assert.Equal("offline", spec.Env["WANDB_MODE"]);
        Assert.Equal(3, spec.MaxRetries);
        Assert.Equal(500, spec.MaxPreemptions);
        Assert.Equal(new StallPolicy(90, StallAction.Restart), spec.Stall);
        Assert.Equal(30, spec.ProvisionTimeoutMinutes);
        Assert.Equal("gs://my-bucket/llama/ckpt", spec.CheckpointDir);
        Assert.Equal("gs://my-bucket/llama/logs", spec.LogDir);
    }

    [Fact]
    public void Parse_MinimalDocument_AppliesDefaults()
    {
        var spec = JobDocument.Parse(MinimalJson);

        Assert.Equal(["us-central2-b"], spec.Tpu.Zones);
        Assert.Equal("tpu-ubuntu2204-base", spec.Tpu.RuntimeVersion);
        Assert.Empty(spec.Args);
        Assert.Empty(spec.Env);
        Assert.Equal(5, spec.MaxRetries);
        Assert.Equal(100, spec.MaxPreemptions);
        Assert.Equal(new StallPolicy(60, StallAction.Warn), spec.Stall);
        Assert.Equal(120, spec.ProvisionTimeoutMinutes);
        Assert.Null(spec.CheckpointDir);
        Assert.Null(spec.LogDir);
    }

    [Theory]
    [InlineData("v5litepod-16", "v2-alpha-tpuv5-lite")]
    [InlineData("v6e-8", "v2-alpha-tpuv6e")]
    [InlineData("v5p-16384", "v2-alpha-tpuv5")]
    [InlineData("v6e-1", "v2-alpha-tpuv6e")]
    [InlineData("v2-2048", "tpu-ubuntu2204-base")]
    [InlineData("v4-8192", "tpu-ubuntu2204-base")]
    public void Parse_TypeWithoutRuntimeVersion_UsesGenerationDefault(string type, string runtimeVersion)
    {
        var spec = JobDocument.Parse(Json($$$"""{"tpu": {"type": "{{{type}}}"}}"""));
        Assert.Equal(runtimeVersion, spec.Tpu.RuntimeVersion);
    }

    [Theory]
    [InlineData(FullJson)]
    [InlineData(MinimalJson)]
    public void ToJson_ParsedSpec_RoundTrips(string document)
    {
        var json = JobDocument.ToJson(JobDocument.Parse(document));
        Assert.Equal(json, JobDocument.ToJson(JobDocument.Parse(json)));
    }

    [Fact]
    public void ToJson_Spec_WritesZonesListAndSortedEnv()
    {
        var json = JobDocument.ToJson(JobDocument.Parse(FullYaml));
        Assert.Contains("\"zones\": [\n      \"us-east5-a\",\n      \"europe-west4-b\"\n    ]", json, StringComparison.Ordinal);
        Assert.True(json.IndexOf("\"SEED\"", StringComparison.Ordinal) < json.IndexOf("\"WANDB_MODE\"", StringComparison.Ordinal));
        Assert.DoesNotContain("\"zone\":", json, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> InvalidDocuments => new()
    {
        { "name", Json($$$"""{"name": "{{{Delete}}}"}""") },
        { "name", Json("""{"name": ""}""") },
        { "name", Json("""{"name": "two\nlines"}""") },
        { "name", Json($$$"""{"name": "{{{new string('n', 101)}}}"}""") },
        { "name", Json("""{"name": 42}""") },
        { "tpu", Json($$$"""{"tpu": "{{{Delete}}}"}""") },
        { "tpu.type", Json($$$"""{"tpu": {"type": "{{{Delete}}}"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v9-8"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v4-12"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v4-4"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v4-16384"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v5litepod-2"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "V4-8"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v4-08"}}""") },
        { "tpu.type", Json("""{"tpu": {"type": "v4-8\n"}}""") },
        { "tpu.zones", Json("""{"tpu": {"zones": ["us-central2-b"]}}""") },
        { "tpu.zone", Json($$$"""{"tpu": {"zone": "{{{Delete}}}"}}""") },
        { "tpu.zone", Json("""{"tpu": {"zone": "us-central2"}}""") },
        { "tpu.zone", Json("""{"tpu": {"zone": "us-central2-b\n"}}""") },
        { "tpu.zone", Json("""{"tpu": {"zone": ["us-central2-b"]}}""") },
        { "tpu.zones", Json($$$"""{"tpu": {"zone": "{{{Delete}}}", "zones": []}}""") },
        { "tpu.zones[1]", Json($$$"""{"tpu": {"zone": "{{{Delete}}}", "zones": ["us-central2-b", "Europe-west4-a"]}}""") },
        { "tpu.zones[2]", Json($$$"""{"tpu": {"zone": "{{{Delete}}}", "zones": ["us-central2-b", "us-east5-a", "us-central2-b"]}}""") },
        { "tpu.zones", Json("{\"tpu\": {\"zone\": \"$delete\", \"zones\": [" + string.Join(", ", Enumerable.Range(1, 11).Select(i => $"\"us-east{i}-a\"")) + "]}}") },
        { "tpu.runtimeVersion", Json("""{"tpu": {"runtimeVersion": "Latest"}}""") },
        { "tpu.zonez", Json("""{"tpu": {"zonez": ["us-central2-b"]}}""") },
        { "code", Json($$$"""{"code": "{{{Delete}}}"}""") },
        { "code", Json("""{"code": "./src"}""") },
        { "code", Json("""{"code": "/home/me/src"}""") },
        { "code", Json("""{"code": "file:///home/me/src"}""") },
        { "code", Json("""{"code": "gs://AB/code"}""") },
        { "code", Json("""{"code": "gs://-bucket"}""") },
        { "code", Json("""{"code": "s3://bucket/code"}""") },
        { "code", Json("""{"code": ""}""") },
        { "script", Json($$$"""{"script": "{{{Delete}}}"}""") },
        { "script", Json("""{"script": "../x.py"}""") },
        { "script", Json("""{"script": "/etc/passwd"}""") },
        { "script", Json("""{"script": "a/../../b"}""") },
        { "script", Json("""{"script": "a\\b.py"}""") },
        { "script", Json("""{"script": "~/train.py"}""") },
        { "script", Json("""{"script": "train.py\u0000.sh"}""") },
        { "script", Json("""{"script": ""}""") },
        { "script", Json($$$"""{"script": "{{{new string('s', 513)}}}"}""") },
        { "args", Json("""{"args": "--steps 100"}""") },
        { "args[1]", Json("""{"args": ["ok", {"no": 1}]}""") },
        { "args[0]", Json("""{"args": [null]}""") },
        { "args[0]", Json("""{"args": ["a\u0000b"]}""") },
        { "args[0]", Json($$$"""{"args": ["{{{new string('a', 4097)}}}"]}""") },
        { "args", Json("{\"args\": [" + string.Join(", ", Enumerable.Repeat("\"x\"", 257)) + "]}") },
        { "env", Json("""{"env": ["A=1"]}""") },
        { "env.my_var", Json("""{"env": {"my_var": "x"}}""") },
        { "env.1ST", Json("""{"env": {"1ST": "x"}}""") },
        { "env.SPOT_JOB_ID", Json("""{"env": {"SPOT_JOB_ID": "mine"}}""") },
        { "env.JAX_COORDINATOR_ADDRESS", Json("""{"env": {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}}""") },
        { "env.EMPTY", Json("""{"env": {"EMPTY": null}}""") },
        { "env.BIG", Json($$$"""{"env": {"BIG": "{{{new string('v', 32 * 1024 + 1)}}}"}}""") },
        { "env", Json("{\"env\": {" + string.Join(", ", Enumerable.Range(0, 101).Select(i => $"\"V{i}\": \"x\"")) + "}}") },
        { "maxRetries", Json("""{"maxRetries": -1}""") },
        { "maxRetries", Json("""{"maxRetries": 1.5}""") },
        { "maxRetries", Json("""{"maxRetries": "5"}""") },
        { "maxRetries", Json("""{"maxRetries": true}""") },
        { "maxRetries", Json("""{"maxRetries": 1001}""") },
        { "maxRetries", Json("""{"maxRetries": 1e400}""") },
        { "maxPreemptions", Json("""{"maxPreemptions": 10001}""") },
        { "stall", Json("""{"stall": 60}""") },
        { "stall.action", Json("""{"stall": {"action": "explode"}}""") },
        { "stall.action", Json("""{"stall": {"action": "Warn"}}""") },
        { "stall.minutes", Json("""{"stall": {"minutes": 0}}""") },
        { "stall.minute", Json("""{"stall": {"minute": 5}}""") },
        { "provisionTimeoutMinutes", Json("""{"provisionTimeoutMinutes": 10081}""") },
        { "checkpointDir", Json("""{"checkpointDir": "/tmp/ckpt"}""") },
        { "logDir", Json("""{"logDir": "gs://x"}""") },
        { "maxRetry", Json("""{"maxRetry": 3}""") },
        { "python", Json("""{"python": 3.1}""") },
        { "python", Json("""{"python": "3"}""") },
        { "python", Json("""{"python": "python3.12"}""") },
        { "python", Json("""{"python": "3.12; rm -rf ~"}""") },
        { "python", Json("""{"python": "3.12\n"}""") },
        { "extraIndexUrls", Json("""{"extraIndexUrls": "https://download.pytorch.org/whl/cpu"}""") },
        { "extraIndexUrls", Json("{\"extraIndexUrls\": [" + string.Join(", ", Enumerable.Range(0, 17).Select(i => $"\"https://i{i}.example/simple\"")) + "]}") },
        { "extraIndexUrls[0]", Json("""{"extraIndexUrls": ["file:///etc/passwd"]}""") },
        { "extraIndexUrls[0]", Json("""{"extraIndexUrls": ["ftp://mirror.example/simple"]}""") },
        { "extraIndexUrls[0]", Json("""{"extraIndexUrls": ["--index-url=https://evil.example"]}""") },
        { "extraIndexUrls[1]", Json("""{"extraIndexUrls": ["https://ok.example/simple", "https://a.example/simple --trusted-host evil"]}""") },
        { "extraIndexUrls[0]", Json("""{"extraIndexUrls": ["https://a.example/simple\nhttps://b.example"]}""") },
        { "extraIndexUrls[0]", Json("""{"extraIndexUrls": [7]}""") },
        { "pipArgs", Json("""{"pipArgs": "--pre --no-deps"}""") },
        { "pipArgs[0]", Json("""{"pipArgs": ["--pre\u0000; touch /tmp/pwned"]}""") },
        { "pipArgs[0]", Json("""{"pipArgs": ["--pre\n--index-url=https://evil.example"]}""") },
        { "pipArgs[0]", Json("""{"pipArgs": [""]}""") },
        { "pipArgs[0]", Json($$$"""{"pipArgs": ["{{{new string('a', 1025)}}}"]}""") },
        { "pipArgs", Json("{\"pipArgs\": [" + string.Join(", ", Enumerable.Repeat("\"--pre\"", 65)) + "]}") },
        { "document", "[" + MinimalJson + "]" },
        { "document", "- name: resnet\n- tpu: {}" },
        { "document", "just a sentence" },
        { "document", "" },
        { "document", "# only a comment\n" },
        { "document", "{\"name\": \"resnet\",}" },
        { "document", "{\"name\": \"a\", \"name\": \"b\"}" },
        { "document", "name: [resnet\ntpu: x" },
        { "document", "name: 'unterminated\n" },
        { "document", "name: resnet\n  tpu: x: y" },
        { "document", "name: first\n---\nname: second\n" },
        { "document", string.Concat(Enumerable.Repeat("{\"a\": ", 70)) + "1" + new string('}', 70) },
        { "document", "name: !!binary aGVsbG8=" },
        { "document", "name: *nowhere" },
        { "document", new string('[', 100) + new string(']', 100) },
        { "document", MinimalJson + new string(' ', JobDocument.MaxDocumentBytes) },
    };

    [Fact]
    public void Parse_WithoutEnvironmentFields_GivesPython312AndNoIndexesOrPipArgs()
    {
        var spec = JobDocument.Parse(MinimalJson);

        Assert.Equal("3.12", spec.Python);
        Assert.Empty(spec.ExtraIndexUrls);
        Assert.Empty(spec.PipArgs);
    }

    [Fact]
    public void Parse_ShellLookingPipArgs_KeptAsSingleWords()
    {
        var spec = JobDocument.Parse(Json("""{"pipArgs": ["--config-settings=k=$(touch /tmp/pwned)", "; rm -rf ~", "`id`"], "python": "3.11.9"}"""));

        Assert.Equal(["--config-settings=k=$(touch /tmp/pwned)", "; rm -rf ~", "`id`"], spec.PipArgs);
        Assert.Equal("3.11.9", spec.Python);
        Assert.Equal(JobDocument.ToJson(spec), JobDocument.ToJson(JobDocument.Parse(JobDocument.ToJson(spec))));
    }

    [Theory]
    [MemberData(nameof(InvalidDocuments))]
    public void Parse_InvalidDocument_NamesTheField(string field, string document)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(document));

        Assert.Contains(error.Errors, e => e.Field == field);
        Assert.Contains($"  {field}: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadTpuType_ListsGenerationsAndSizes()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json("""{"tpu": {"type": "v4-12"}}""")));

        var message = Assert.Single(error.Errors).Message;
        foreach (var expected in new[] { "'v4-12'", "v2-N", "v3-N", "v4-N", "v5p-N", "v5litepod-N", "v6e-N", "8192", "16384", "1, 4, 8, 16, 32, 64, 128, 256" })
        {
            Assert.Contains(expected, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parse_UnknownField_ListsAllowedFieldsAndSuggestsNearest()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json("""{"maxRetry": 3}""")));

        var message = Assert.Single(error.Errors).Message;
        Assert.StartsWith("unknown field 'maxRetry' (did you mean 'maxRetries'?); allowed: name, tpu, code, script,", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ReservedEnvName_SaysSpotJaxSetsIt()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json("""{"env": {"SPOT_JOB_ID": "x"}}""")));
        Assert.Contains("reserved", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LocalCodeOnCloud_SaysOnlyGsIsAccepted()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json("""{"code": "./src"}""")));
        Assert.Contains("only gs://BUCKET[/path] is accepted on Google Cloud", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("us-central2-b", true)]
    [InlineData("europe-west4-a", true)]
    [InlineData("us-central2", false)]
    [InlineData("US-central2-b", false)]
    [InlineData("us-central2-b\n", false)]
    [InlineData(" us-central2-b", false)]
    [InlineData("", false)]
    public void IsZone_AnyValue_AgreesWithTpuZoneInADocument(string zone, bool expected)
    {
        var document = $$"""{"name": "z", "tpu": {"type": "v4-8", "zone": {{System.Text.Json.JsonSerializer.Serialize(zone)}}}, "code": "gs://my-bucket/c", "script": "t.py"}""";
        var parses = Record.Exception(() => JobDocument.Parse(document)) is null;

        Assert.Equal(expected, JobDocument.IsZone(zone));
        Assert.Equal(expected, parses);
    }

    [Fact]
    public void Parse_InvalidYaml_ReportsTheLine()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse("name: resnet\ntpu:\n  type: v4-8\n  zone: 'us-central2-b\n"));
        Assert.StartsWith("line ", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidJson_ReportsTheOneBasedLine()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse("{\n  \"name\": \"resnet\",\n  \"tpu\": nope\n}"));
        Assert.StartsWith("line 3: invalid JSON:", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsThemAllTogether()
    {
        const string document = """
            name: resnet
            tpu: {type: v4-12, zone: us-central2-b, zone2: x}
            code: ./src
            script: ../train.py
            env: {lower: x, SPOT_ATTEMPT: "1"}
            maxRetries: 1.5
            stall: {action: explode}
            """;

        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(document));

        Assert.Equal(
            ["tpu.zone2", "tpu.type", "code", "script", "env.lower", "env.SPOT_ATTEMPT", "maxRetries", "stall.action"],
            error.Errors.Select(e => e.Field));
        Assert.StartsWith("invalid job document (8 errors):\n  ", error.Message, StringComparison.Ordinal);
        Assert.Equal(9, error.Message.Split('\n').Length);
    }

    [Fact]
    public void Parse_DuplicateYamlKey_NamesTheKeyAndStillValidatesTheRest()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse("name: a\nname: b\ntpu: {type: v4-8, zone: us-central2-b}\ncode: gs://bkt/c\nscript: /abs.py\n"));

        Assert.Equal(["name", "script"], error.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Parse_YamlAliasBomb_IsRejectedWithoutExpanding()
    {
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 10; i++)
        {
            lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]");
        }

        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(string.Join('\n', lines)));

        Assert.Contains("more than 100000 values", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_YamlAliasWithinLimit_IsExpanded()
    {
        const string document = """
            name: resnet
            tpu: {type: v4-8, zone: &zone us-central2-b}
            code: gs://my-bucket/c
            script: train.py
            args: [--zone, *zone]
            """;

        Assert.Equal(["--zone", "us-central2-b"], JobDocument.Parse(document).Args);
    }

    [Fact]
    public void Parse_YamlScalarsWhereStringsAreExpected_KeepTheirText()
    {
        const string document = """
            name: 2024
            tpu: {type: v4-8, zone: us-central2-b}
            code: gs://my-bucket/c
            script: train.py
            args: [yes, no, on, True, 007, 0x1F, 1_000, .5, 1.0e3, -0, "quoted 5", !!str 12]
            env: {FLAG: false, COUNT: 12, RATIO: 0.10}
            """;

        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(document));
        Assert.Equal("name", Assert.Single(error.Errors).Field);

        var spec = JobDocument.Parse(document.Replace("name: 2024", "name: \"2024\"", StringComparison.Ordinal));
        Assert.Equal(["yes", "no", "on", "True", "007", "0x1F", "1_000", ".5", "1.0e3", "-0", "quoted 5", "12"], spec.Args);
        Assert.Equal("false", spec.Env["FLAG"]);
        Assert.Equal("12", spec.Env["COUNT"]);
        Assert.Equal("0.10", spec.Env["RATIO"]);
    }

    [Theory]
    [InlineData("maxRetries: 7", 7)]
    [InlineData("maxRetries: 0", 0)]
    [InlineData("maxRetries: 1e2", 100)]
    [InlineData("maxRetries: 5.0", 5)]
    public void Parse_YamlPlainNumberWhereIntegerIsExpected_IsAnInteger(string line, int expected)
    {
        var spec = JobDocument.Parse($"name: r\ntpu: {{type: v4-8, zone: us-central2-b}}\ncode: gs://my-bucket/c\nscript: t.py\n{line}\n");
        Assert.Equal(expected, spec.MaxRetries);
    }

    [Theory]
    [InlineData("maxRetries: \"5\"")]
    [InlineData("maxRetries: '5'")]
    [InlineData("maxRetries: 007")]
    [InlineData("maxRetries: true")]
    [InlineData("maxRetries:")]
    [InlineData("maxRetries: [5]")]
    public void Parse_YamlNonIntegerWhereIntegerIsExpected_IsRejected(string line)
    {
        var error = Assert.Throws<JobDocumentException>(
            () => JobDocument.Parse($"name: r\ntpu: {{type: v4-8, zone: us-central2-b}}\ncode: gs://my-bucket/c\nscript: t.py\n{line}\n"));
        Assert.Equal("maxRetries", Assert.Single(error.Errors).Field);
    }

    [Theory]
    [InlineData("$(touch /tmp/x)")]
    [InlineData("`touch /tmp/x`")]
    [InlineData("\"double\" and 'single' quotes")]
    [InlineData("a; rm -rf / && echo done | tee x > y")]
    [InlineData("line one\nline two\r\n\ttabbed")]
    [InlineData("${HOME} %PATH% \\ backslash")]
    [InlineData("--flag='; DROP TABLE jobs; --")]
    public void Parse_HostileStringsInArgsAndEnv_AreAcceptedVerbatim(string hostile)
    {
        var fromJson = JobDocument.Parse(Json(new System.Text.Json.Nodes.JsonObject
        {
            ["args"] = new System.Text.Json.Nodes.JsonArray(hostile, "--next"),
            ["env"] = new System.Text.Json.Nodes.JsonObject { ["PAYLOAD"] = hostile },
        }.ToJsonString()));
        var quoted = System.Text.Json.JsonSerializer.Serialize(hostile);
        var fromYaml = JobDocument.Parse(
            $"name: r\ntpu: {{type: v4-8, zone: us-central2-b}}\ncode: gs://my-bucket/c\nscript: t.py\nargs: [{quoted}, --next]\nenv:\n  PAYLOAD: {quoted}\n");

        foreach (var spec in new[] { fromJson, fromYaml })
        {
            Assert.Equal([hostile, "--next"], spec.Args);
            Assert.Equal(hostile, spec.Env["PAYLOAD"]);
        }
    }

    [Theory]
    [InlineData("src", "/srv/jobs/src")]
    [InlineData("./src/../code", "/srv/jobs/code")]
    [InlineData("/opt/code", "/opt/code")]
    [InlineData("file:///opt/code", "/opt/code")]
    [InlineData("gs://my-bucket/code", "gs://my-bucket/code")]
    public void Parse_LocalCodeInLocalMode_IsNormalisedToAnAbsolutePath(string code, string expected)
    {
        var spec = JobDocument.Parse(Json($$$"""{"code": "{{{code}}}", "checkpointDir": "{{{code}}}/ckpt"}"""), Local);

        Assert.Equal(expected, spec.Code);
        Assert.Equal(expected + "/ckpt", spec.CheckpointDir);
    }

    [Fact]
    public void Parse_LocalCodeWithoutBaseDirectory_ResolvesAgainstCurrentDirectory()
    {
        var spec = JobDocument.Parse(Json("""{"code": "src"}"""), new JobDocumentOptions { AllowLocalCode = true });
        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "src"), spec.Code);
    }

    [Fact]
    public void Parse_OtherSchemeInLocalMode_IsRejected()
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json("""{"code": "s3://bucket/code"}"""), Local));
        Assert.Equal("code", Assert.Single(error.Errors).Field);
    }

    [Theory]
    [InlineData("gs://my-bucket")]
    [InlineData("gs://my.bucket_1/a/b/c.tar.gz")]
    [InlineData("gs://abc/")]
    public void Parse_GsCode_IsKeptAsWritten(string code)
    {
        Assert.Equal(code, JobDocument.Parse(Json($$$"""{"code": "{{{code}}}"}""")).Code);
    }

    [Fact]
    public void Parse_UnpairedSurrogates_AreRejectedNotMangled()
    {
        // Kept out of theory data: the test runner itself cannot serialise these strings.
        var cases = new (string Field, string Document)[]
        {
            ("document", "name: x\ud800\n"),
            ("document", "{\"name\": \"x\udc00\"}"),
            ("document", "{\"\\ud800\": 1}"),
            ("name", MinimalJson.Replace("\"resnet\"", "\"x\\ud800\"", StringComparison.Ordinal)),
            ("args[0]", MinimalJson.Replace("\"train.py\"", "\"train.py\", \"args\": [\"\\udc00\"]", StringComparison.Ordinal)),
            ("env.V", MinimalJson.Replace("\"train.py\"", "\"train.py\", \"env\": {\"V\": \"\\ud800\"}", StringComparison.Ordinal)),
        };

        Assert.All(cases, c =>
        {
            var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(c.Document));
            Assert.Equal(c.Field, Assert.Single(error.Errors).Field);
        });
    }

    [Fact]
    public void Parse_ByteOrderMarkAndLeadingWhitespace_AreIgnored()
    {
        Assert.Equal("resnet", JobDocument.Parse("\uFEFF \n\t" + MinimalJson).Name);
    }

    [Fact]
    public void Parse_DocumentAtTheSizeLimit_IsAccepted()
    {
        var padded = MinimalJson + new string(' ', JobDocument.MaxDocumentBytes - MinimalJson.Length);
        Assert.Equal("resnet", JobDocument.Parse(padded).Name);
    }
}
