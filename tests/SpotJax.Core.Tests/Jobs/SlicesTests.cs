using System.Text.Json.Nodes;
using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

/// <summary><c>slices</c>: how many slices of the TPU type a multislice job trains on.</summary>
public sealed class SlicesTests
{
    [Fact]
    public void Parse_WithoutSlices_IsOneSlice()
    {
        Assert.Equal(1, JobDocument.Parse(MinimalJson).Slices);
    }

    [Theory]
    [InlineData("""{"slices": 2}""", 2)]
    [InlineData("""{"slices": 64}""", 64)]
    [InlineData("""{"slices": 2.0}""", 2)]
    public void Parse_ValidSlices_IsRead(string patch, int expected)
    {
        Assert.Equal(expected, JobDocument.Parse(Json(patch)).Slices);
    }

    [Fact]
    public void Parse_YamlSlices_IsRead()
    {
        var spec = JobDocument.Parse("name: r\ntpu: {type: v4-32, zone: us-central2-b}\ncode: gs://my-bucket/c\nscript: t.py\nslices: 2\n");
        Assert.Equal(2, spec.Slices);
    }

    [Theory]
    [InlineData("""{"slices": 0}""", "0")]
    [InlineData("""{"slices": -1}""", "-1")]
    [InlineData("""{"slices": 65}""", "65")]
    [InlineData("""{"slices": 1.5}""", "1.5")]
    [InlineData("""{"slices": "2"}""", "the string \"2\"")]
    [InlineData("""{"slices": true}""", "true")]
    [InlineData("""{"slices": null}""", "null")]
    [InlineData("""{"slices": [2]}""", "a list")]
    public void Parse_BadSlices_IsRejectedNamingTheFieldAndRange(string patch, string got)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json(patch)));

        var only = Assert.Single(error.Errors);
        Assert.Equal("slices", only.Field);
        Assert.StartsWith("must be an integer from 1 to 64, got ", only.Message, StringComparison.Ordinal);
        Assert.Contains(got, only.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_Slices_IsWrittenAndReadBack()
    {
        var spec = JobDocument.Parse(Json("""{"slices": 3}"""));

        var json = JobDocument.ToJson(spec);

        Assert.Equal(3, (int)JsonNode.Parse(json)!["slices"]!);
        Assert.Equal(spec.Slices, JobDocument.Parse(json).Slices);
    }

    [Theory]
    [InlineData(1, "v4-32")]
    [InlineData(2, "2 x v4-32")]
    public void TpuShape_Of_ShowsSlicesOnlyWhenSeveral(int slices, string expected)
    {
        var spec = JobDocument.Parse(Json("""{"tpu": {"type": "v4-32"}}""")) with { Slices = slices };
        Assert.Equal(expected, TpuShape.Of(spec));
    }
}
