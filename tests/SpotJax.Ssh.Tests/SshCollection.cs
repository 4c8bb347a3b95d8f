namespace SpotJax.Ssh.Tests;

/// <summary>The tests that share <see cref="SshWorkersFixture"/>'s daemons.</summary>
[CollectionDefinition(Name)]
public sealed class SshCollection : ICollectionFixture<SshWorkersFixture>
{
    public const string Name = "sshd workers";
}
