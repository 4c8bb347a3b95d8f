using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Jobs;

public sealed class JobIdTests
{
    private static readonly Regex GeneratedShape = new(@"^[a-z][a-z0-9-]{0,40}[a-z0-9]\z");

    [Fact]
    public void From_KnownSubmission_GivesPinnedId()
    {
        // Pinned: a different id for the same submission after an upgrade would let a redelivery create a second job.
        Assert.Equal("llama-3-pretrain-8b-89f732d2ce", JobId.From("Llama 3 Pretrain (8B)!", "projects/p/topics/jobs/1234567"));
    }

    [Fact]
    public void From_SameInputs_GivesSameId()
    {
        Assert.Equal(JobId.From("resnet", "msg-42"), JobId.From("resnet", "msg-42"));
    }

    [Fact]
    public void From_DifferentSubmissionKeys_GiveDifferentIds()
    {
        var ids = Enumerable.Range(0, 100).Select(i => JobId.From("resnet", $"msg-{i}")).ToHashSet();
        Assert.Equal(100, ids.Count);
    }

    [Fact]
    public void From_AnyName_EndsWithTenHexOfSubmissionKeyHash()
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("gcs:b/jobs/a.yaml#17")));
        Assert.Equal($"train-{hash[..10]}", JobId.From("train", "gcs:b/jobs/a.yaml#17"));
    }

    [Theory]
    [InlineData("", "job")]
    [InlineData("---", "job")]
    [InlineData("123", "job-123")]
    [InlineData("  My  Job  ", "my-job")]
    [InlineData("训练 ünïcode", "n-code")]
    [InlineData("训练", "job")]
    [InlineData("UPPER_case.name", "upper-case-name")]
    public void From_Name_SlugsAsciiLettersAndDigits(string name, string slug)
    {
        var id = JobId.From(name, "key");
        Assert.Equal(slug, id[..^11]);
        Assert.Matches(GeneratedShape, id);
    }

    [Fact]
    public void From_LongName_CutsSlugToThirtyWithoutTrailingDash()
    {
        var id = JobId.From(new string('a', 29) + " b" + new string('c', 200), "key");
        Assert.Equal(new string('a', 29), id[..^11]);
        Assert.Matches(GeneratedShape, id);
    }

    [Theory]
    [InlineData("a very long experiment name that goes on and on and on")]
    [InlineData("9 lives")]
    [InlineData("\u0000\n\t")]
    [InlineData("ÄÖÜ ß 日本語 🚀")]
    [InlineData("x")]
    public void From_AnyName_IsValidAndFitsATpuNodeIdWithAttempt(string name)
    {
        var id = JobId.From(name, "projects/p/subscriptions/s/99");
        Assert.Matches(GeneratedShape, id);
        Assert.True(JobId.IsValid(id));
        Assert.True($"{id}-10000".Length <= 63);
    }

    [Theory]
    [InlineData("abc", true)]
    [InlineData("train-89f732d2ce", true)]
    [InlineData("a-b", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("ab", false)]
    [InlineData("-abc", false)]
    [InlineData("abc-", false)]
    [InlineData("Abc", false)]
    [InlineData("1abc", false)]
    [InlineData("abc\n", false)]
    [InlineData("ab_c", false)]
    [InlineData("../etc", false)]
    public void IsValid_Id_MatchesIdShape(string? id, bool valid)
    {
        Assert.Equal(valid, JobId.IsValid(id));
    }

    [Fact]
    public void IsValid_FiftyOneCharacters_IsRejected()
    {
        Assert.True(JobId.IsValid(new string('a', 51)));
        Assert.False(JobId.IsValid(new string('a', 52)));
    }
}
