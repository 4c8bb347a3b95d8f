using System.Text.RegularExpressions;
using SpotJax.Contracts;

namespace SpotJax.Tests.Infra;

/// <summary>The Terraform configuration in infra/, read as text: its locals, resources, data sources and variables.</summary>
public sealed partial class InfraConfig
{
    private InfraConfig(IReadOnlyDictionary<string, string> files)
    {
        Files = files;
        var top = files.ToDictionary(f => f.Key, f => Hcl.Entries(f.Value));
        var all = top.Values.SelectMany(e => e).ToList();
        Locals = all.Where(e => e.IsBlock && e.Key == "locals")
            .SelectMany(e => Hcl.Entries(e.Value))
            .ToDictionary(e => e.Key, e => e.Value);
        Resources = all.Where(e => e.IsBlock && e.Key == "resource")
            .ToDictionary(e => $"{e.Labels[0]}.{e.Labels[1]}", e => Hcl.Entries(e.Value));
        DataSources = all.Where(e => e.IsBlock && e.Key == "data")
            .ToDictionary(e => $"{e.Labels[0]}.{e.Labels[1]}", e => Hcl.Entries(e.Value));
        Variables = all.Where(e => e.IsBlock && e.Key == "variable")
            .ToDictionary(e => e.Labels[0], e => Hcl.Entries(e.Value));
        Outputs = all.Where(e => e.IsBlock && e.Key == "output")
            .ToDictionary(e => e.Labels[0], e => Hcl.Entries(e.Value));
    }

    public static string Directory { get; } = Path.Combine(Repository.Root, "infra");

    /// <summary>Loaded once: the files do not change while the tests run.</summary>
    public static InfraConfig Instance { get; } = Load();

    /// <summary>File name to its text.</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    public IReadOnlyDictionary<string, string> Locals { get; }

    /// <summary><c>TYPE.NAME</c> to the block's entries.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Hcl.Entry>> Resources { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<Hcl.Entry>> DataSources { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<Hcl.Entry>> Variables { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<Hcl.Entry>> Outputs { get; }

    /// <summary>The functions map: function name to its settings (<c>trigger</c>, <c>topic</c>, ...).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Hcl.Entry>> Functions =>
        Hcl.Object(Locals["functions"]).ToDictionary(e => e.Key, e => Hcl.Object(e.Value));

    /// <summary>A string setting of one function; null when it is <c>null</c>.</summary>
    public string? FunctionSetting(string function, string key)
    {
        var value = Hcl.Value(Functions[function], key);
        return value == "null" ? null : Hcl.StringLiteral(value) ?? throw new FormatException($"{function}.{key} = {value} is not a literal");
    }

    /// <summary>
    /// The topic names of local <c>topics</c> for one name prefix: key to name. Each entry must be
    /// <c>"${var.name_prefix}-SUFFIX"</c>, so that every topic a deployment makes carries its prefix.
    /// </summary>
    public IReadOnlyDictionary<string, string> Topics(string prefix) =>
        Hcl.Object(Locals["topics"]).ToDictionary(e => e.Key, e => PrefixedName(e.Value, prefix) ?? throw new FormatException($"topics.{e.Key} = {e.Value} is not \"${{var.name_prefix}}-NAME\""));

    /// <summary>The topic a reference <c>local.topics.KEY</c> names for one prefix; null for <c>null</c>.</summary>
    public string? TopicOf(string reference, string prefix)
    {
        var text = reference.Trim();
        if (text == "null")
        {
            return null;
        }

        const string Local = "local.topics.";
        return text.StartsWith(Local, StringComparison.Ordinal) && Topics(prefix).TryGetValue(text[Local.Length..], out var topic)
            ? topic
            : throw new FormatException($"{reference} is not a reference to local.topics");
    }

    /// <summary>The topic of one function (<c>functions[NAME].topic</c>) for one prefix; null when it has none.</summary>
    public string? FunctionTopic(string function, string prefix) => TopicOf(Hcl.Value(Functions[function], "topic"), prefix);

    /// <summary>The topics each function publishes to (local <c>publishes</c>) for one prefix.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Publishes(string prefix) =>
        Hcl.Object(Locals["publishes"]).ToDictionary(
            e => e.Key,
            e => (IReadOnlyList<string>)ListItems(e.Value).Select(item => TopicOf(item, prefix)!).ToList());

    /// <summary><c>"${var.name_prefix}-SUFFIX"</c> with the prefix put in; null for any other expression.</summary>
    public static string? PrefixedName(string expression, string prefix)
    {
        const string Start = "\"${var.name_prefix}-";
        var text = expression.Trim();
        var suffix = text.StartsWith(Start, StringComparison.Ordinal) && text.EndsWith('"') ? text[Start.Length..^1] : null;
        return suffix is not null && !suffix.Contains("${", StringComparison.Ordinal) && !suffix.Contains('"', StringComparison.Ordinal) ? $"{prefix}-{suffix}" : null;
    }

    /// <summary>The items of a tuple <c>[a, b]</c>, as written.</summary>
    private static IEnumerable<string> ListItems(string value)
    {
        var text = value.Trim();
        if (!text.StartsWith('[') || !text.EndsWith(']'))
        {
            throw new FormatException($"not a list: {text}");
        }

        return text[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>A local map of string literals (<c>topics</c>).</summary>
    public IReadOnlyDictionary<string, string> StringMap(string local) =>
        Hcl.Object(Locals[local]).ToDictionary(e => e.Key, e => Hcl.StringLiteral(e.Value) ?? throw new FormatException($"{local}.{e.Key} is not a string literal"));

    /// <summary>A local map of string lists (<c>project_roles</c>, <c>publishes</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> ListMap(string local) =>
        Hcl.Object(Locals[local]).ToDictionary(e => e.Key, e => Hcl.StringList(e.Value));

    public IReadOnlyList<Hcl.Entry> Resource(string typeAndName) =>
        Resources.TryGetValue(typeAndName, out var entries) ? entries : throw new KeyNotFoundException($"infra/ declares no resource {typeAndName}");

    /// <summary>Every file's text without comments, joined.</summary>
    public string Code => string.Join("\n", Files.Values.Select(Hcl.StripComments));

    private static InfraConfig Load()
    {
        var files = System.IO.Directory.GetFiles(Directory, "*.tf", SearchOption.TopDirectoryOnly)
            .Order(StringComparer.Ordinal)
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        return new InfraConfig(files);
    }

    /// <summary>Spaces collapsed, for comparing expressions.</summary>
    public static string Normalize(string expression) => Spaces().Replace(expression.Trim(), " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
