using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

/// <summary><c>maxCostUsd</c> in the job document: parsed, validated and written back.</summary>
public sealed class MaxCostUsdTests
{
    [Fact]
    public void Parse_Absent_IsNoLimit() => Assert.Null(JobDocument.Parse(MinimalJson).MaxCostUsd);

    [Theory]
    [InlineData("25", 25)]
    [InlineData("12.5", 12.5)]
    [InlineData("0.01", 0.01)]
    [InlineData("1e3", 1000)]
    public void Parse_PositiveNumber_IsTheBudget(string value, double expected) =>
        Assert.Equal((decimal)expected, JobDocument.Parse(Json($$"""{ "maxCostUsd": {{value}} }""")).MaxCostUsd);

    [Fact]
    public void Parse_Yaml_ReadsTheSameBudget()
    {
        const string yaml = "name: r\ntpu: {type: v4-8, zone: us-central2-b}\ncode: gs://b-1/c.tgz\nscript: t.py\nmaxCostUsd: 7.5\n";

        Assert.Equal(7.5m, JobDocument.Parse(yaml).MaxCostUsd);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("\"25\"")]
    [InlineData("true")]
    [InlineData("1000001")]
    public void Parse_NotAPositiveNumber_IsRejectedNamingTheField(string value)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json($$"""{ "maxCostUsd": {{value}} }""")));

        var problem = Assert.Single(error.Errors);
        Assert.Equal("maxCostUsd", problem.Field);
        Assert.Contains("positive number of US dollars", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_WithBudget_ReadsBackEqual()
    {
        var spec = JobDocument.Parse(Json("""{ "maxCostUsd": 42.75 }"""));

        var again = JobDocument.Parse(JobDocument.ToJson(spec));

        Assert.Equal(42.75m, again.MaxCostUsd);
        Assert.Contains("\"maxCostUsd\": 42.75", JobDocument.ToJson(spec), StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_WithoutBudget_LeavesTheFieldOut() =>
        Assert.DoesNotContain("maxCostUsd", JobDocument.ToJson(JobDocument.Parse(MinimalJson)), StringComparison.Ordinal);
}
