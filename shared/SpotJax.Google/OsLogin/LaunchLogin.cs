namespace SpotJax.Google.OsLogin;

/// <summary>
/// The user <c>launch</c> logs in as: the mode is decided once, on the first launch (so that a
/// function instance that never launches calls nothing), then either the fixed user of metadata keys
/// or the POSIX user of <see cref="OsLoginSession"/>, which imports the key as its TTL runs out.
/// </summary>
public sealed class LaunchLogin : IDisposable
{
    private readonly SshLoginDetector detector;
    private readonly SshLoginSetting setting;
    private readonly Func<OsLoginSession> openSession;
    private readonly string metadataUser;
    private readonly SemaphoreSlim gate = new(1, 1);
    private OsLoginSession? session;

    /// <param name="detector">Decides the mode of <see cref="SshLoginSetting.Auto"/>.</param>
    /// <param name="setting">The deployment's <c>ssh_login</c>.</param>
    /// <param name="openSession">Makes the OS Login session, only once OS Login is the mode (it may throw for a missing setting).</param>
    /// <param name="metadataUser">The user of metadata keys.</param>
    public LaunchLogin(SshLoginDetector detector, SshLoginSetting setting, Func<OsLoginSession> openSession, string metadataUser)
    {
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(openSession);
        ArgumentException.ThrowIfNullOrWhiteSpace(metadataUser);
        this.detector = detector;
        this.setting = setting;
        this.openSession = openSession;
        this.metadataUser = metadataUser;
    }

    /// <summary>The mode decided on the first launch; null before it.</summary>
    public SshLoginMode? Mode { get; private set; }

    /// <summary>The user to log in as for one launch or stop.</summary>
    public async Task<string> UserAsync(CancellationToken cancellationToken)
    {
        OsLoginSession? osLogin;
        await gate.WaitAsync(cancellationToken);
        try
        {
            Mode ??= await detector.DetectAsync(setting, cancellationToken);
            if (!Mode.OsLogin)
            {
                return metadataUser;
            }

            osLogin = session ??= openSession();
        }
        finally
        {
            gate.Release();
        }

        return await osLogin.LoginUserAsync(cancellationToken);
    }

    public void Dispose()
    {
        session?.Dispose();
        gate.Dispose();
    }
}
