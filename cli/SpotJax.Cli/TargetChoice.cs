namespace SpotJax.Cli;

/// <summary>The deployment a command talks to, as named on the command line, in the environment or the config file.</summary>
/// <param name="IsLocal">The local control plane.</param>
/// <param name="StateDir">The local plane's state folder.</param>
/// <param name="Project">The Google Cloud project (not local).</param>
/// <param name="Bucket">The control bucket (not local).</param>
public sealed record TargetChoice(bool IsLocal, string StateDir, string? Project, string? Bucket)
{
    public Task<Target> OpenAsync(CancellationToken cancellationToken) =>
        IsLocal ? Task.FromResult(Target.OpenLocal(StateDir)) : Target.OpenGoogleAsync(Project!, Bucket!, cancellationToken);
}
