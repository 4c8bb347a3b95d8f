using System.Text.RegularExpressions;

namespace SpotJax.Tests.Infra;

/// <summary>
/// What <c>terraform validate</c> would catch first, checked without providers (which cannot be
/// downloaded on CI machines): references to undeclared variables, locals, resources and data
/// sources, and variables or outputs without a description.
/// </summary>
public sealed partial class InfraReferencesTests
{
    private static readonly InfraConfig Infra = InfraConfig.Instance;

    [Fact]
    public void Variables_EveryReference_IsDeclaredWithADescriptionAndAType()
    {
        var used = VariableReference().Matches(Infra.Code).Select(m => m.Groups[1].Value).ToHashSet();

        Assert.NotEmpty(used);
        Assert.All(used, v => Assert.True(Infra.Variables.ContainsKey(v), $"var.{v} is used but not declared"));
        Assert.All(Infra.Variables, v =>
        {
            Assert.True(v.Value.Any(e => e.Key == "description"), $"variable {v.Key} has no description");
            Assert.True(v.Value.Any(e => e.Key == "type"), $"variable {v.Key} has no type");
        });
        Assert.All(Infra.Variables.Keys, v => Assert.Contains(v, used));
    }

    [Fact]
    public void Locals_EveryReference_IsDefined()
    {
        var used = LocalReference().Matches(Infra.Code).Select(m => m.Groups[1].Value).ToHashSet();

        Assert.NotEmpty(used);
        Assert.All(used, l => Assert.True(Infra.Locals.ContainsKey(l), $"local.{l} is used but not defined"));
    }

    [Fact]
    public void Resources_EveryReference_IsDeclared()
    {
        var code = Infra.Code;
        var resources = ResourceReference().Matches(code)
            .Where(m => m.Index < 5 || code[(m.Index - 5)..m.Index] != "data.")
            .Select(m => $"{m.Groups[1].Value}.{m.Groups[2].Value}")
            .ToHashSet();
        var data = DataReference().Matches(code).Select(m => $"{m.Groups[1].Value}.{m.Groups[2].Value}").ToHashSet();

        Assert.NotEmpty(resources);
        Assert.All(resources, r => Assert.True(Infra.Resources.ContainsKey(r), $"{r} is referenced but not declared"));
        Assert.All(data, d => Assert.True(Infra.DataSources.ContainsKey(d), $"data.{d} is referenced but not declared"));
    }

    [Fact]
    public void Outputs_Each_HasADescription()
    {
        Assert.NotEmpty(Infra.Outputs);
        Assert.All(Infra.Outputs, o => Assert.True(o.Value.Any(e => e.Key == "description"), $"output {o.Key} has no description"));
    }

    [Fact]
    public void Providers_AreThePinnedGoogleAndTlsProviders()
    {
        var terraform = Hcl.Entries(Infra.Files["versions.tf"]).Single(e => e.IsBlock && e.Key == "terraform");
        var providers = Hcl.Entries(Hcl.Blocks(Hcl.Entries(terraform.Value), "required_providers").Single().Value);
        var used = ResourceReference().Matches(Infra.Code).Select(m => m.Groups[1].Value.Split('_')[0])
            .Concat(Infra.Resources.Keys.Select(k => k.Split('_')[0]))
            .ToHashSet();

        Assert.Equal(new[] { "google", "tls" }, providers.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Subset(providers.Select(p => p.Key).ToHashSet(), used);
        Assert.Single(Hcl.Blocks(Hcl.Entries(terraform.Value), "backend"));
    }

    [GeneratedRegex(@"\bvar\.([a-z_][a-z0-9_]*)")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"\blocal\.([a-z_][a-z0-9_]*)")]
    private static partial Regex LocalReference();

    [GeneratedRegex(@"\b((?:google|tls)_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)")]
    private static partial Regex ResourceReference();

    [GeneratedRegex(@"\bdata\.((?:google|tls)_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)")]
    private static partial Regex DataReference();
}
