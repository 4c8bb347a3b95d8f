namespace SpotJax.Core.Tests;

public sealed class TopicsTests
{
    [Fact]
    public void Default_IsTheNamesOfADeploymentMadeBeforePrefixes()
    {
        Assert.Equal(NamePrefix.Default, Topics.Default.Prefix);
        Assert.Equal(["spotjax-jobs", "spotjax-provision", "spotjax-launch", "spotjax-recover", "spotjax-finish", "spotjax-job-events"], Topics.Default.All);
    }

    [Fact]
    public void Prefixed_EveryTopicStartsWithThePrefix()
    {
        var topics = new Topics("staging");

        Assert.Equal(("staging-jobs", "staging-provision", "staging-launch", "staging-recover", "staging-finish"), (topics.Jobs, topics.Provision, topics.Launch, topics.Recover, topics.Finish));
        Assert.Equal([topics.Jobs, topics.Provision, topics.Launch, topics.Recover, topics.Finish, topics.JobEvents], topics.All);
    }

    [Fact]
    public void TwoPrefixes_ShareNoTopic()
    {
        Assert.Empty(new Topics("staging").All.Intersect(new Topics("production").All));
        Assert.Empty(Topics.Default.All.Intersect(new Topics("spotjax-stg").All));
    }

    [Fact]
    public void SamePrefix_IsTheSameTopics()
    {
        Assert.Equal(new Topics("staging"), new Topics("staging"));
        Assert.Equal(Topics.Default, new Topics("spotjax"));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("spotjax")]
    [InlineData("spotjax-staging1")]
    [InlineData("s2")]
    [InlineData("gooseberry")]
    public void NamePrefix_ShortLowercaseName_IsValid(string prefix)
    {
        Assert.True(NamePrefix.IsValid(prefix));
        Assert.Equal(prefix, new Topics(prefix).Prefix);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Staging")]
    [InlineData("1st")]
    [InlineData("staging-")]
    [InlineData("staging_eu")]
    [InlineData("spotjax-staging12")]
    [InlineData("staging\n")]
    [InlineData("google")]
    public void NamePrefix_OtherThanTerraformsRule_IsRefusedWithTheRule(string? prefix)
    {
        Assert.False(NamePrefix.IsValid(prefix));
        var error = Assert.Throws<ArgumentException>(() => new Topics(prefix!));
        Assert.Contains(NamePrefix.Rule, error.Message, StringComparison.Ordinal);
    }
}
