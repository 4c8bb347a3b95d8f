using System.Text.RegularExpressions;
using SpotJax.Tests.Infra;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// Every expression of infra/ with its address, read from the .tf files by <see cref="InfraConfig"/>:
/// locals, the arguments of resources and data sources at any depth (dynamic blocks included),
/// variable validations and outputs. Tells which ones branch on a variable.
/// </summary>
internal static partial class InfraExpressions
{
    /// <summary>One expression. <paramref name="Resource"/> is <c>TYPE.NAME</c> (or <c>data.TYPE.NAME</c>) when it sits in one.</summary>
    public sealed record Expression(string Address, string Text, string Key, string? Resource);

    public static IReadOnlyList<Expression> All { get; } = Walk(InfraConfig.Instance);

    public static Expression At(string address) =>
        All.SingleOrDefault(e => e.Address == address) ?? throw new KeyNotFoundException($"infra/ has no expression {address}");

    /// <summary>Locals whose value depends on a variable, directly or through other locals.</summary>
    public static IReadOnlySet<string> VariableLocals { get; } = DependOnVariables(InfraConfig.Instance.Locals);

    /// <summary>
    /// Whether the expression chooses between outcomes (a conditional, a <c>for ... if</c> filter,
    /// coalesce, try or can, or it is a count or for_each) and reads a variable, directly or through a local.
    /// </summary>
    public static bool BranchesOnAVariable(Expression expression)
    {
        var code = PlainStrings().Replace(Hcl.StripComments(expression.Text), "\"\"");
        var branches = expression.Key is "count" or "for_each" || Branch().IsMatch(code);
        var readsVariable = VariableReference().IsMatch(code) || LocalReference().Matches(code).Any(m => VariableLocals.Contains(m.Groups[1].Value));
        return branches && readsVariable;
    }

    private static List<Expression> Walk(InfraConfig infra)
    {
        var all = new List<Expression>();
        all.AddRange(infra.Locals.Select(l => new Expression($"local.{l.Key}", l.Value, l.Key, null)));
        foreach (var (name, entries) in infra.Resources)
        {
            Body(all, name, entries, name);
        }

        foreach (var (name, entries) in infra.DataSources)
        {
            Body(all, $"data.{name}", entries, $"data.{name}");
        }

        foreach (var (name, entries) in infra.Variables)
        {
            Body(all, $"variable.{name}", entries, null);
        }

        foreach (var (name, entries) in infra.Outputs)
        {
            Body(all, $"output.{name}", entries, null);
        }

        return all;
    }

    private static void Body(List<Expression> all, string prefix, IReadOnlyList<Hcl.Entry> entries, string? resource)
    {
        foreach (var entry in entries)
        {
            if (!entry.IsBlock)
            {
                all.Add(new Expression($"{prefix}.{entry.Key}", entry.Value, entry.Key, resource));
                continue;
            }

            // Blocks of one kind (dynamic "env" three times) are told apart by their position.
            var segment = string.Join('.', new[] { entry.Key }.Concat(entry.Labels));
            var siblings = entries.Where(e => e.IsBlock && e.Key == entry.Key && e.Labels.SequenceEqual(entry.Labels)).ToList();
            if (siblings.Count > 1)
            {
                segment += $"[{siblings.IndexOf(entry)}]";
            }

            Body(all, $"{prefix}.{segment}", Hcl.Entries(entry.Value), resource);
        }
    }

    private static HashSet<string> DependOnVariables(IReadOnlyDictionary<string, string> locals)
    {
        var found = locals.Where(l => VariableReference().IsMatch(Hcl.StripComments(l.Value))).Select(l => l.Key).ToHashSet();
        bool grew;
        do
        {
            grew = false;
            foreach (var (name, value) in locals)
            {
                if (!found.Contains(name) && LocalReference().Matches(Hcl.StripComments(value)).Any(m => found.Contains(m.Groups[1].Value)))
                {
                    grew = found.Add(name);
                }
            }
        }
        while (grew);
        return found;
    }

    [GeneratedRegex(@"\?|\b(?:coalesce|try|can)\(|\bif\b")]
    private static partial Regex Branch();

    [GeneratedRegex(@"(?<![\w.])var\.[a-z_][a-z0-9_]*")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"(?<![\w.])local\.([a-z_][a-z0-9_]*)")]
    public static partial Regex LocalReference();

    /// <summary>A string literal without interpolation: its words (an "if" in a description) are not code.</summary>
    [GeneratedRegex(@"""(?:[^""\\$]|\\.|\$(?!\{))*""")]
    private static partial Regex PlainStrings();
}
