using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Tests.Infra;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// Evaluates one expression of infra/ with the real terraform, offline: a throw-away module holds
/// infra/variables.tf as it is, the locals the expression needs (as they are in infra/), and the
/// expression as an output. Resources and data sources cannot exist without their providers, so
/// each one referenced becomes a local of the same shape: a list of <c>count</c> objects, a map
/// over its <c>for_each</c> (both evaluated from infra/'s own expressions), or one object, whose
/// attributes are the strings <c>"TYPE.NAME.ATTRIBUTE"</c>.
/// </summary>
internal static partial class TerraformProbe
{
    /// <summary>What terraform answered: the value as JSON, or the error it reported.</summary>
    public sealed record Outcome(JsonNode? Value, string? Error)
    {
        public bool Succeeded => Error is null;

        public override string ToString() => Error is null ? $"value {Value?.ToJsonString() ?? "null"}" : $"error: {Error}";
    }

    /// <summary>Values of the required variables, so that a case names only the variables it is about.</summary>
    private static readonly Dictionary<string, JsonNode?> Required = new()
    {
        ["project_id"] = "my-project",
        ["bucket_name"] = "my-project-spotjax",
        ["image"] = "us-central1-docker.pkg.dev/my-project/spotjax/spotjax-functions@sha256:0123",
    };

    /// <summary>Evaluates the expression at <paramref name="address"/> with these variables (JSON, null included).</summary>
    public static async Task<Outcome> EvaluateAsync(string address, string variablesJson)
    {
        var expression = InfraExpressions.At(address);
        var module = Directory.CreateTempSubdirectory("spotjax-tf-").FullName;
        try
        {
            var variables = Required.ToDictionary(v => v.Key, v => v.Value?.DeepClone());
            foreach (var (name, value) in JsonNode.Parse(variablesJson)!.AsObject())
            {
                variables[name] = value?.DeepClone();
            }

            await File.WriteAllTextAsync(Path.Combine(module, "variables.tf"), InfraConfig.Instance.Files["variables.tf"]);
            await File.WriteAllTextAsync(Path.Combine(module, "probe.tf"), Module(expression));
            await File.WriteAllTextAsync(Path.Combine(module, "case.tfvars.json"), new JsonObject(variables!).ToJsonString());

            var result = await Tool.RunAsync(
                "terraform",
                ["apply", "-auto-approve", "-input=false", "-no-color", "-json", "-var-file=case.tfvars.json"],
                module,
                new Dictionary<string, string?>
                {
                    ["CHECKPOINT_DISABLE"] = "1",
                    ["TF_IN_AUTOMATION"] = "1",
                    ["TF_INPUT"] = "0",
                    ["TF_CLI_CONFIG_FILE"] = "",
                    ["TF_DATA_DIR"] = Path.Combine(module, ".terraform"),
                    ["TF_PLUGIN_CACHE_DIR"] = null,
                    ["TF_LOG"] = null,
                });
            var messages = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => line.StartsWith('{'))
                .Select(line => JsonNode.Parse(line)!)
                .ToList();
            if (result.ExitCode != 0)
            {
                var errors = messages.Where(m => (string?)m["@level"] == "error").Select(m => $"{m["diagnostic"]?["summary"]}: {m["diagnostic"]?["detail"]}").ToList();
                return new Outcome(null, errors.Count > 0 ? string.Join(" | ", errors) : result.ToString());
            }

            var outputs = messages.LastOrDefault(m => (string?)m["type"] == "outputs" && m["outputs"]?["value"]?.AsObject().ContainsKey("value") == true)
                ?? throw new InvalidOperationException($"terraform reported no output value: {result}");
            return new Outcome(outputs["outputs"]!["value"]!["value"]?.DeepClone(), null);
        }
        finally
        {
            Directory.Delete(module, recursive: true);
        }
    }

    /// <summary>The probe module's text, apart from the variables.</summary>
    public static string Module(InfraExpressions.Expression expression)
    {
        var infra = InfraConfig.Instance;
        var value = Rewrite(expression.Text);
        if (expression.Resource is { } resource && expression.Address != $"{resource}.for_each" && ForEach(resource) is { } forEach)
        {
            // An argument of a resource with for_each: its value for every instance, keyed as Terraform keys them.
            value = $"{{ for each_key, each_value in ({Rewrite(forEach)}) : each_key => ({EachReference().Replace(value, "each_$1")}) }}";
        }

        var locals = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new Queue<string>([value]);
        while (pending.TryDequeue(out var text))
        {
            foreach (Match reference in InfraExpressions.LocalReference().Matches(text))
            {
                var name = reference.Groups[1].Value;
                if (locals.ContainsKey(name))
                {
                    continue;
                }

                locals[name] = name.StartsWith(StubPrefix, StringComparison.Ordinal) ? Stub(name) : Rewrite(infra.Locals[name]);
                pending.Enqueue(locals[name]);
            }
        }

        var module = new StringBuilder("locals {\n");
        foreach (var (name, text) in locals)
        {
            module.Append("  ").Append(name).Append(" = ").Append(text).Append('\n');
        }

        return module.Append("}\n\noutput \"value\" {\n  value = ").Append(value).Append("\n}\n").ToString();
    }

    private const string StubPrefix = "stub__";

    /// <summary>References to resources and data sources become references to their stand-in locals.</summary>
    private static string Rewrite(string text)
    {
        var infra = InfraConfig.Instance;
        var code = Hcl.StripComments(text);
        foreach (var name in infra.DataSources.Keys)
        {
            code = Regex.Replace(code, $@"(?<![\w.])data\.{Regex.Escape(name)}\b", $"local.{StubName("data." + name)}");
        }

        foreach (var name in infra.Resources.Keys)
        {
            code = Regex.Replace(code, $@"(?<![\w.]){Regex.Escape(name)}\b", $"local.{StubName(name)}");
        }

        return code;
    }

    private static string StubName(string address) => StubPrefix + address.Replace(".", "__", StringComparison.Ordinal);

    private static string Stub(string local)
    {
        var address = local[StubPrefix.Length..].Replace("__", ".", StringComparison.Ordinal);
        var reference = address.StartsWith("data.", StringComparison.Ordinal) ? $@"(?<![\w])data\.{Regex.Escape(address[5..])}" : $@"(?<![\w.]){Regex.Escape(address)}";
        var attributes = Regex.Matches(InfraConfig.Instance.Code, reference + @"(?:\[[^\]]*\])?\.([a-z_][a-z0-9_]*)")
            .Select(m => m.Groups[1].Value)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .Select(attribute => $"{attribute} = \"{address}.{attribute}\"");
        var instance = $"{{ {string.Join(", ", attributes)} }}";
        var body = Body(address);
        if (body.FirstOrDefault(e => e.Key == "count" && !e.IsBlock) is { } count)
        {
            return $"[for index in range({Rewrite(count.Value)}) : {instance}]";
        }

        return ForEach(address) is { } forEach ? $"{{ for key, value in ({Rewrite(forEach)}) : key => {instance} }}" : instance;
    }

    private static IReadOnlyList<Hcl.Entry> Body(string address) =>
        address.StartsWith("data.", StringComparison.Ordinal) ? InfraConfig.Instance.DataSources[address[5..]] : InfraConfig.Instance.Resource(address);

    private static string? ForEach(string address) => Body(address).FirstOrDefault(e => e.Key == "for_each" && !e.IsBlock)?.Value;

    [GeneratedRegex(@"(?<![\w.])each\.(key|value)\b")]
    private static partial Regex EachReference();
}
